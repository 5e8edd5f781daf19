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
