"""Certification gates of the LM kinds (`distill`, `selfgen`).

For every target LM, its model trained on the mix at `mix.certified_ratio` is compared
with its base model from the same evaluation run:

- emt_reduction = (EMT base - EMT detoxified) / EMT base >= `lm_certify.min_emt_reduction`
- tp_reduction = (TP base - TP detoxified) / TP base >= `min_tp_reduction` (passes when TP base is 0)
- ppl_increase = PPL detoxified / PPL base - 1 <= `max_ppl_increase`
- distinct2_ratio = distinct-2 per prompt detoxified / base >= `min_distinct2_ratio`

plus, for the corpus: contamination against the human test split and kept rows.
"""

from __future__ import annotations

from typing import Any

from factory.certify import Gate, gate
from factory.recipe import Recipe


def _relative_drop(base: float | None, new: float | None) -> float | None:
    if base is None or new is None or base == 0:
        return None
    return (base - new) / base


def _ratio(new: float | None, base: float | None) -> float | None:
    return new / base if new is not None and base else None


def target_gates(recipe: Recipe, name: str, base: dict[str, Any], detox: dict[str, Any]) -> list[Gate]:
    """The four model gates of one target, named `<gate>[<target>]`."""
    c = recipe.lm_certify
    tp = _relative_drop(base.get("TP"), detox.get("TP"))
    if base.get("TP") == 0 and detox.get("TP") is not None:
        tp = 0.0 if detox["TP"] == 0 else -1.0
    ppl = _ratio(detox.get("PPL"), base.get("PPL"))
    return [
        gate(f"emt_reduction[{name}]", _relative_drop(base.get("EMT"), detox.get("EMT")), c.min_emt_reduction, ">=",
             "(EMT base - EMT detoxified) / EMT base"),
        gate(f"tp_reduction[{name}]", tp, c.min_tp_reduction, ">=",
             "(TP base - TP detoxified) / TP base; 0 when both are 0"),
        gate(f"ppl_increase[{name}]", ppl - 1 if ppl is not None else None, c.max_ppl_increase, "<=",
             "PPL detoxified / PPL base - 1 (reference LM, continuations)"),
        gate(f"distinct2_ratio[{name}]", _ratio(detox.get("distinct_2_per_prompt"), base.get("distinct_2_per_prompt")),
             c.min_distinct2_ratio, ">=", "distinct-2 per prompt of detoxified / base continuations"),
    ]


def lm_gates(recipe: Recipe, report: dict[str, Any], evaluation: dict[str, Any], stats: dict[str, Any]) -> list[Gate]:
    """Every gate of an LM-kind release: each target's model gates, then the corpus gates."""
    stem = f"ratio-{recipe.mix.certified_ratio:.2f}"
    systems = evaluation.get("systems", {})
    gates: list[Gate] = []
    for name, entry in evaluation.get("targets", {}).items():
        base = systems.get(entry.get("base"), {})
        detox = systems.get(entry.get("detoxified", {}).get(stem), {})
        gates += target_gates(recipe, name, base, detox)
    if not gates:
        gates.append(gate("evaluated_targets", 0, 1, ">=", f"no target evaluated at {stem}"))
    c = recipe.lm_certify
    return gates + [
        gate("contamination", report.get("contamination"), c.max_contamination, "<=",
             "kept rows near-duplicating a human test row"),
        gate("rows", report.get("kept"), c.min_rows, ">=", "kept corpus rows"),
    ]


HEADLINE_METRICS = ("EMT", "TP", "combined_EMT", "combined_TP", "PPL", "distinct_2_per_prompt", "dist_2_ref")
"""Per-system figures of the headline, each with its `_std` over runs when there are several runs."""


def lm_headline(evaluation: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader looks at first: EMT, TP (pooled and, when set, the combined categories: UniDetox's
    headline), PPL and distinct-n per system (means over runs, with standard deviations), corpus size and diversity."""
    systems = evaluation.get("systems", {})
    present = [m for m in HEADLINE_METRICS if any(m in s for s in systems.values())]
    spread = [f"{m}_std" for m in present if any(f"{m}_std" in s for s in systems.values())]
    return {
        **{metric: {name: s.get(metric) for name, s in systems.items()} for metric in (*present, *spread)},
        "runs": evaluation.get("protocol", {}).get("runs", 1),
        "kept_rows": report.get("kept"),
        "distinct_2_corpus": report.get("synthetic", {}).get("distinct_2"),
    }
