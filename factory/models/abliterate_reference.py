"""Per-layer refusal directions and the RefusalsRemover edit of PseudoParaDetox.

The reference is s-nlp/pseudoparadetox `notebooks/RefusalsRemover.ipynb` (commit 3eae79e8),
read cell by cell (never copied):

- cell 23: every prompt is a system turn (the generation system prompt) and a user turn (the
  instruction), rendered by the chat template with the assistant header appended. Cell 20: the
  instruction is "Continue this text: " + a toxic or a neutral sentence.
- cells 7, 26: the activation is `output[0]` of each decoder layer (the residual stream after
  the block, before any final norm) at prompt position -3. Layers 2..L-1 are read.
- cell 32: per layer, direction = mean over toxic prompts - mean over neutral prompts,
  normalised to unit length: one direction per layer.
- cell 33: layers 3..L-1 are edited (`layers[1:]`), each with its own direction; the edited
  modules are `self_attn.o_proj` and `mlp.down_proj`; embeddings are untouched.
- cells 35-36: `get_orthogonalized_matrix(M, v) = M - (M v) v^T` removes v from M's last
  dimension. For `down_proj` it is applied to W^T, so W <- W - v v^T W: the MLP no longer
  writes along v (output side). For `o_proj` it is applied to W itself, so W <- W - W v v^T:
  the projection no longer reads the component of the concatenated heads along v (its input
  side) — the notebook's choice, reproduced as is. Only `.weight` changes (Llama has no biases).

Differences, none of them in the edit: arithmetic in float64, stored back in the model's dtype
(the notebook: float16 on the GPU); one prompt at a time instead of left-padded batches of 8
(the same activations for rotary models such as Llama, whose attention sees relative positions
only); the rendered prompt is tokenized without adding special tokens, as `generate` does,
where the notebook's tokenizer call added a second BOS (fidelity item P4).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

from factory.core.errors import FactoryError
from factory.models.backends.base import render_prompt

ATTENTION_OUT = ("self_attn.o_proj", "attn.c_proj", "self_attn.out_proj", "self_attention.dense", "attention.dense",
                 "attn.out_proj")
"""Names, inside a decoder block, of the attention output projection (Llama/Qwen/Mistral, GPT-2, OPT, Falcon,
GPT-NeoX, GPT-J)."""
MLP_DOWN = ("mlp.down_proj", "mlp.c_proj", "fc2", "mlp.dense_4h_to_h", "mlp.fc_out")
"""Names, inside a decoder block, of the MLP down projection (same families)."""


def decoder_blocks(model: Any) -> list[Any]:
    """The model's decoder layers in order (the first ModuleList with `num_hidden_layers` members)."""
    import torch

    count = getattr(model.config, "num_hidden_layers", None)
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return list(module)
    raise FactoryError(f"abliterate: cannot find the {count} decoder layers of {type(model).__name__}")


def _projection(block: Any, names: Sequence[str], what: str, index: int) -> Any:
    found = [module for name, module in block.named_modules() if name in names]
    if len(found) != 1:
        raise FactoryError(f"abliterate: layer {index} ({type(block).__name__}) has no single {what} "
                           f"(looked for {', '.join(names)})")
    return found[0]


def block_projections(block: Any, index: int) -> tuple[Any, Any]:
    """(attention output projection, MLP down projection) of one decoder block."""
    return (_projection(block, ATTENTION_OUT, "attention output projection", index),
            _projection(block, MLP_DOWN, "MLP down projection", index))


def _output_dim(module: Any) -> int:
    """The weight dimension that indexes outputs: 0 for nn.Linear (out, in), 1 for GPT-2's Conv1D (in, out)."""
    return 1 if type(module).__name__ == "Conv1D" else 0


def remove_along(module: Any, direction: Any, side: str) -> None:
    """Remove `direction` from the `side` ("output" or "input") of `module.weight`, in place; bias untouched."""
    import torch

    dim = _output_dim(module) if side == "output" else 1 - _output_dim(module)
    weight = module.weight
    if weight.shape[dim] != direction.numel():
        raise FactoryError(f"abliterate: {type(module).__name__} has {weight.shape[dim]} {side} features, not "
                           f"{direction.numel()} (d_model): the reference edit needs them equal")
    with torch.no_grad():
        w, v = weight.double(), direction.to(weight.device, torch.float64)
        edited = w - torch.outer(v, v @ w) if dim == 0 else w - torch.outer(w @ v, v)
        weight.copy_(edited.to(weight.dtype))


def reference_edit(model: Any, directions: Mapping[int, Any]) -> list[str]:
    """Edit each layer in `directions` against its own direction as the notebook does; return the edited modules."""
    blocks, edited = decoder_blocks(model), []
    names = {id(module): name for name, module in model.named_modules()}
    for index in sorted(directions):
        attention, mlp = block_projections(blocks[index], index)
        remove_along(mlp, directions[index], "output")
        remove_along(attention, directions[index], "input")
        edited += [names[id(attention)], names[id(mlp)]]
    return edited


def _keep(store: dict[int, Any], index: int, _module: Any, _inputs: Any, output: Any) -> None:
    store[index] = output[0] if isinstance(output, tuple) else output


def position_activations(model: Any, tokenizer: Any, conversations: Sequence[Sequence[dict[str, str]]],
                         position: int) -> Any:
    """(layers, prompts, d_model) float64 outputs of every decoder layer at prompt token `position` (< 0)."""
    import torch

    blocks, store = decoder_blocks(model), {}
    hooks = [block.register_forward_hook(functools.partial(_keep, store, i)) for i, block in enumerate(blocks)]
    rows = []
    try:
        for number, messages in enumerate(conversations, start=1):
            ids = tokenizer(render_prompt(tokenizer, messages), return_tensors="pt", add_special_tokens=False)
            if ids["input_ids"].shape[1] < -position:
                raise FactoryError(f"abliterate.position: {position} is before the start of prompt {number} "
                                   f"({ids['input_ids'].shape[1]} tokens)")
            with torch.inference_mode():
                model(**ids.to(model.device))
            rows.append(torch.stack([store[i][0, position].double().cpu() for i in range(len(blocks))]))
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(rows, dim=1)
