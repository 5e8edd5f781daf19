"""Abliteration: the patched projections have no component along the refusal direction."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from tokenizers import Tokenizer, models, pre_tokenizers

from factory.models.abliterate import abliterate, output_projections, read_prompts


def _tiny_gpt2():
    vocab = {chr(c): i for i, c in enumerate(range(32, 127))}
    vocab["<eos>"] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_layer=3, n_embd=32, n_head=2, n_positions=256)).eval()
    return model, tokenizer


def test_patched_weights_cannot_write_along_the_direction():
    model, tokenizer = _tiny_gpt2()
    before = [m.weight.detach().clone() for m in output_projections(model)]
    direction = abliterate(model, tokenizer, layer=1, harmful=read_prompts("harmful")[:4],
                           harmless=read_prompts("harmless")[:4])
    r = direction.float()
    assert abs(float(r.norm()) - 1.0) < 1e-6
    modules = output_projections(model)
    assert len(modules) == 6  # attn.c_proj and mlp.c_proj of 3 blocks
    for module, old in zip(modules, before):
        assert torch.allclose(module.weight @ r, torch.zeros(module.weight.shape[0]), atol=1e-5)
        assert abs(float(module.bias @ r)) < 1e-5
        assert not torch.allclose(module.weight, old)
    x = torch.randn(5, modules[0].weight.shape[0])
    assert torch.allclose(modules[0](x) @ r, torch.zeros(5), atol=1e-4)


def test_linear_projection_is_orthogonalised():
    from factory.models.abliterate import orthogonalise

    layer = torch.nn.Linear(8, 6)
    r = torch.randn(6, dtype=torch.float64)
    r /= r.norm()
    orthogonalise(layer, r)
    assert torch.allclose(r.float() @ layer.weight, torch.zeros(8), atol=1e-6)
    assert abs(float(layer.bias @ r.float())) < 1e-6


def _tiny_llama(layers: int = 5):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=40, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=2)
    return LlamaForCausalLM(config).eval()


def _unit_directions(layers: int, width: int) -> torch.Tensor:
    torch.manual_seed(2)
    directions = torch.randn(layers, width, dtype=torch.float64)
    return directions / directions.norm(dim=-1, keepdim=True)


def _notebook_orthogonalized(matrix: torch.Tensor, vec: torch.Tensor) -> torch.Tensor:
    """RefusalsRemover.ipynb cell 35, re-derived: remove `vec` from the last dimension of `matrix`."""
    return matrix - (matrix @ vec).unsqueeze(-1) * vec


def test_reference_edit_is_the_notebooks_edit_on_llama_modules():
    from factory.models.abliterate_reference import reference_edit

    model = _tiny_llama()
    directions = _unit_directions(5, 16)
    layers = model.model.layers
    before = {i: (layers[i].self_attn.o_proj.weight.double().clone(), layers[i].mlp.down_proj.weight.double().clone())
              for i in range(5)}
    edited = reference_edit(model, {i: directions[i] for i in (3, 4)})
    assert edited == ["model.layers.3.self_attn.o_proj", "model.layers.3.mlp.down_proj",
                      "model.layers.4.self_attn.o_proj", "model.layers.4.mlp.down_proj"]
    for i in range(5):
        o_proj, down_proj = layers[i].self_attn.o_proj.weight.double(), layers[i].mlp.down_proj.weight.double()
        if i < 3:  # cell 33 edits layers[1:] only
            assert torch.equal(o_proj, before[i][0]) and torch.equal(down_proj, before[i][1])
            continue
        v = directions[i]
        # cell 36: o_proj as is (input side), down_proj through its transpose (output side)
        assert torch.allclose(o_proj, _notebook_orthogonalized(before[i][0], v), atol=1e-6)
        assert torch.allclose(down_proj, _notebook_orthogonalized(before[i][1].T, v).T, atol=1e-6)
        assert torch.allclose(o_proj @ v, torch.zeros(16, dtype=torch.float64), atol=1e-6)  # reads nothing along v
        assert torch.allclose(v @ down_proj, torch.zeros(40, dtype=torch.float64), atol=1e-6)  # writes nothing along v
        assert float((v @ o_proj).norm()) > 1e-2  # o_proj still writes along v: not the project's edit
        assert float((directions[i - 1] @ down_proj).norm()) > 1e-2  # another layer's direction is kept


def test_reference_edit_on_gpt2_conv1d_uses_each_layers_own_direction():
    from factory.models.abliterate_reference import reference_edit

    model, _ = _tiny_gpt2()
    directions = _unit_directions(3, 32)
    blocks = model.transformer.h
    biases = [b.mlp.c_proj.bias.detach().clone() for b in blocks]
    reference_edit(model, {0: directions[0], 2: directions[2]})
    for i in (0, 2):
        v = directions[i].float()
        attn, mlp = blocks[i].attn.c_proj.weight, blocks[i].mlp.c_proj.weight  # Conv1D: (in, out)
        assert torch.allclose(v @ attn, torch.zeros(32), atol=1e-5)  # input side
        assert torch.allclose(mlp @ v, torch.zeros(128), atol=1e-5)  # output side
        other = directions[2 - i].float()
        assert float((mlp @ other).norm()) > 1e-2  # orthogonal to its own layer's direction only
        assert torch.equal(blocks[i].mlp.c_proj.bias, biases[i])  # weights only, as the notebook
    untouched = blocks[1].mlp.c_proj.weight @ directions[1].float()
    assert float(untouched.norm()) > 1e-2


def test_layer_activations_are_each_blocks_output_at_the_position():
    from factory.models.abliterate_reference import position_activations

    model, tokenizer = _tiny_gpt2()
    tokenizer.chat_template = None
    conversations = [[{"role": "user", "content": "hello there"}], [{"role": "user", "content": "go away"}]]
    acts = position_activations(model, tokenizer, conversations, -3)
    assert acts.shape == (3, 2, 32)
    from factory.models.backends.base import render_prompt

    ids = tokenizer(render_prompt(tokenizer, conversations[1]), return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        hidden = model(**ids, output_hidden_states=True).hidden_states
    assert torch.allclose(acts[1, 1].float(), hidden[2][0, -3], atol=1e-5)  # block 1's output (hidden_states[2])
    assert not torch.allclose(acts[2, 1].float(), hidden[3][0, -3], atol=1e-3)  # the last one before ln_f
