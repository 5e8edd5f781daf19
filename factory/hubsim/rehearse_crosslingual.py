"""The rehearsal copy of a `crosslingual` recipe (`factory.hubsim.rehearse`): smaller sizes, and the
settings one CPU cannot honour, each with its reason (printed per recipe, in the JSON line too).

The kind trains with transformers + TRL + PEFT and generates with transformers, not vLLM, so
nothing of the vLLM CPU settings applies. Every language and every train setting of the recipe
is kept (the split of each language goes through the real dataset download); the share sweep is
cut to its ends, as the mix sweep of the other kinds.
"""

from __future__ import annotations

from typing import Any

SIZES: dict[str, Any] = {
    "data.train_rows": 10, "data.test_rows": 4,
    "sft.epochs": 1.0, "sft.share_epochs": 1.0, "sft.batch_size": 4, "sft.grad_accumulation": 1,
    "sft.max_length": 64,
    "dpo.epochs": 1.0, "dpo.batch_size": 4, "dpo.grad_accumulation": 1, "dpo.warmup_steps": 0, "dpo.max_length": 64,
    "continuation.max_new_tokens": 8, "continuation.batch_size": 8, "continuation.num_beams": 2,
    "dpo_continuation.max_new_tokens": 8, "dpo_continuation.batch_size": 8,
    "zero_shot_continuation.max_new_tokens": 8, "zero_shot_continuation.batch_size": 8,
    "embeddings.max_length": 64, "embeddings.batch_size": 8,
    "certify.bootstrap_resamples": 200,
}
"""Smaller sizes under `crosslingual.` (10 train and 4 test pairs per language of the miniature's 40)."""

NF4 = ("none", "nf4 4-bit QLoRA needs bitsandbytes' CUDA kernels; on CPU the LoRA trains on the model in its "
               "published dtype (the same adapters, targets and trainer)")
CPU_SKIPS: dict[str, tuple[Any, str]] = {
    "quantization": NF4, "dpo.quantization": NF4,
    "dpo.fp16": (False, "fp16 mixed precision needs CUDA; on CPU the DPO trains in the model's dtype"),
    "dpo.optimizer": (None, "paged_adamw_32bit needs bitsandbytes' CUDA kernels; on CPU the Trainer's AdamW")}
"""Settings under `crosslingual.` the CPU cannot honour: rehearsal value and why (only where the recipe sets
something else)."""


def _get(tree: dict[str, Any], dotted: str) -> tuple[dict[str, Any] | None, str]:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return (tree if isinstance(tree, dict) else None), leaf


def _keep_embedded_shares(section: dict[str, Any], percents: set[int]) -> None:
    """Drop the models of cut shares (`sft-all-20`) from `embeddings.settings`, as the share sweep is cut."""
    embeddings = section.get("embeddings")
    if isinstance(embeddings, dict) and isinstance(embeddings.get("settings"), list):
        embeddings["settings"] = [s for s in embeddings["settings"]
                                  if not s.rpartition("-")[2].isdigit() or int(s.rpartition("-")[2]) in percents]


def crosslingual_copy(recipe: dict[str, Any], perspective_url: str | None, stand_in_qps: float) -> list[str]:
    """Shrink the `crosslingual` section of `recipe` in place; the settings changed for the CPU, with reasons."""
    section = recipe.get("crosslingual")
    if not isinstance(section, dict):
        return []
    for dotted, value in SIZES.items():
        parent, leaf = _get(section, dotted)
        if parent is not None and (leaf in parent or leaf != "num_beams"):  # beams only where the recipe has them
            parent[leaf] = value
    shares = section.get("shares") or [1.0]
    section["shares"] = sorted({min(shares), 1.0})
    _keep_embedded_shares(section, {round(share * 100) for share in section["shares"]})
    skipped = []
    for dotted, (value, why) in CPU_SKIPS.items():
        parent, leaf = _get(section, dotted)
        if parent is not None and parent.get(leaf, value) != value:
            skipped.append(f"crosslingual.{dotted}={value!r} (recipe: {parent[leaf]!r}): {why}")
            parent[leaf] = value
    toxicity = section.get("toxicity")
    ref = toxicity.get("ref") if isinstance(toxicity, dict) else toxicity
    if perspective_url and str(ref or "").startswith("perspective:"):
        spec = toxicity if isinstance(toxicity, dict) else {"ref": ref}
        spec.setdefault("perspective", {}).update(base_url=perspective_url, qps=stand_in_qps)
        section["toxicity"] = spec
        skipped.append(f"crosslingual.toxicity.perspective.base_url={perspective_url!r}: the Perspective API is "
                       "remote; a loopback stand-in answers (factory/hubsim/perspective_sim.py)")
        skipped.append(f"crosslingual.toxicity.perspective.qps={stand_in_qps}: 1 is the real API's quota; the "
                       "stand-in has none")
    return skipped
