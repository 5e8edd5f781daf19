"""Abliteration: remove a model's refusal direction from its weights (activation patching).

The refusal-direction method (Arditi et al. 2024), as used for the `toxify` kind's
"abliterated" generators:

1. Run the chat-formatted harmful and harmless prompts (factory/data/prompts/) through the
   model and keep the residual-stream activation at the last prompt position after every
   layer.
2. Per layer, the direction is the difference of the harmful and harmless means,
   normalised to unit length. One layer's direction (`layer`, default the middle layer) is
   the refusal direction r.
3. Every matrix that writes into the residual stream — each block's attention output
   projection and MLP down projection — is orthogonalised against r: W <- W - r r^T W
   (for GPT-2's Conv1D, whose weight is stored transposed, W <- W - W r r^T, and the bias
   loses its r component too). After the edit no layer can write along r.

The patched model is saved with `save_pretrained`, so transformers and vLLM load it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.core.errors import FactoryError
from factory.models.backends.base import render_prompt
from factory.core.records import atomic_dir

PROMPTS = Path(__file__).resolve().parent.parent / "data" / "prompts"


def read_prompts(name: str) -> list[str]:
    """The bundled prompt list `harmful` or `harmless`."""
    return [line.strip() for line in (PROMPTS / f"{name}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]


def last_position_activations(model: Any, tokenizer: Any, prompts: Sequence[str]) -> Any:
    """(layers, prompts, d_model) residual activations at each prompt's last token."""
    import torch

    rows = []
    for prompt in prompts:
        text = render_prompt(tokenizer, [{"role": "user", "content": prompt}])
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            hidden = model(**ids, output_hidden_states=True).hidden_states
        rows.append(torch.stack([h[0, -1].double() for h in hidden[1:]]))
    return torch.stack(rows, dim=1)


def refusal_directions(harmful: Any, harmless: Any) -> Any:
    """(layers, d_model) unit difference-of-means directions."""
    diff = harmful.mean(dim=1) - harmless.mean(dim=1)
    return diff / diff.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def output_projections(model: Any) -> list[Any]:
    """The modules that write into the residual stream: attention output and MLP down projections."""
    found = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        parent = name.rsplit(".", 2)[-2] if name.count(".") >= 1 else ""
        if (leaf in ("o_proj", "down_proj", "out_proj", "dense_4h_to_h")
                or (leaf == "c_proj" and parent in ("attn", "mlp"))):
            found.append(module)
    if not found:
        raise FactoryError(f"abliterate: no attention/MLP output projections found in {type(model).__name__}")
    return found


def orthogonalise(module: Any, direction: Any) -> None:
    """Remove `direction` from what `module` writes (nn.Linear or GPT-2 Conv1D), in place."""
    import torch

    with torch.no_grad():
        weight = module.weight
        r = direction.to(weight.dtype)
        if type(module).__name__ == "Conv1D":  # weight (in, out): y = x W + b
            weight -= torch.outer(weight @ r, r)
        else:  # nn.Linear weight (out, in): y = W x + b
            weight -= torch.outer(r, r @ weight)
        if getattr(module, "bias", None) is not None:
            module.bias -= (module.bias @ r) * r


def abliterate(model: Any, tokenizer: Any, *, layer: int | None = None,
               harmful: Sequence[str] | None = None, harmless: Sequence[str] | None = None) -> Any:
    """Patch `model` in place against its refusal direction; return the direction used."""
    acts_harmful = last_position_activations(model, tokenizer, harmful or read_prompts("harmful"))
    acts_harmless = last_position_activations(model, tokenizer, harmless or read_prompts("harmless"))
    directions = refusal_directions(acts_harmful, acts_harmless)
    chosen = directions.shape[0] // 2 if layer is None else layer
    if not 0 <= chosen < directions.shape[0]:
        raise FactoryError(f"abliterate: --layer {layer} is outside 0..{directions.shape[0] - 1}")
    direction = directions[chosen]
    for module in output_projections(model):
        orthogonalise(module, direction)
    return direction


def abliterate_folder(source: str, out: Path, *, layer: int | None = None, overwrite: bool = False) -> Path:
    """Load `source` (Hub id or folder), abliterate it and save it to `out` atomically.

    An existing `out` not made by `factory abliterate` is refused unless `overwrite`
    (checked before the model loads; see `factory.core.outputs`).
    """
    import torch

    from factory.models.loading import load_causal_lm

    with atomic_dir(Path(out), maker="factory abliterate", user_folder=True, overwrite=overwrite) as tmp:
        model, tokenizer = load_causal_lm(source)
        direction = abliterate(model, tokenizer, layer=layer)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(direction.float(), tmp / "refusal_direction.pt")
    return Path(out)
