"""The gates of pair kinds (toxify, detoxify, and translate's pair gates), apart from the stage.

The reference gate (the human-data detoxifier must beat copying the input), the J ratio of
the mixing study, contamination, leakage, duplicate / refusal / copy rates, the quality
floors and diversity of the synthetic side, row counts and rows per language. The stage
`factory.stages.certify` and `factory.kinds.translate.certification` both build on these.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from factory.certify_evidence import HUMAN, IDENTITY, Evidence, paired_estimates
from factory.certify_floors import Floor, distinct2_gate, floor_gates
from factory.core.gates import Gate, estimate_gate, format_interval, gate
from factory.recipe import Recipe
from factory.core.records import read_records


def _j(estimate: Any) -> str:
    value = "n/a" if estimate.value is None else f"{estimate.value:.3f}"
    return f"{value} {format_interval(estimate.interval, '.3f')}".strip()


def reference_gate(recipe: Recipe, estimates: dict[str, Any]) -> Gate:
    """`reference_margin`: J(human data) - J(identity) >= `certify.min_reference_margin`, with its reason if not."""
    c = recipe.certify
    result = estimate_gate("reference_margin", estimates["reference_margin"], c.min_reference_margin, ">=",
                           c.decision, "J of the human-data detoxifier (ratio 0) - J of copying the input "
                           "(identity), paired over the test inputs", role="reference")
    if not result.passed:
        human, identity = estimates["J"].get(HUMAN), estimates["J"].get(IDENTITY)
        if human is None or identity is None or result.value is None:
            result.reason = (f"no J of the human-data detoxifier ({HUMAN}) or of copying the input ({IDENTITY}) "
                             "to compare: the test cannot show that it tells good data from bad")
        elif c.decision == "interval" and result.interval is None:
            result.reason = (f"no per-input scores (data/eval/{recipe.name}/rows.parquet) to bootstrap the margin of "
                             "the human-data detoxifier over copying the input; re-run `factory evaluate`")
        else:
            across = " across its 95% interval" if c.decision == "interval" else ""
            result.reason = (f"human-data detoxifier J {_j(human)} does not beat copying the input J {_j(identity)} "
                             f"by {c.min_reference_margin:g} (paired difference {_j(estimates['reference_margin'])}"
                             f"{across})")
    return result


def pair_gates(recipe: Recipe, report: dict[str, Any], evaluation: dict[str, Any], stats: dict[str, Any],
               mixes: dict[str, Any] | None = None, evidence: Evidence | None = None,
               floors: Sequence[Floor] = ()) -> list[Gate]:
    """The gates of pair recipes (toxify, detoxify, translate), the reference gate first.

    `floors`: the kind's quality floors of the synthetic side; with floors, diversity is
    distinct-2 above them (bootstrapped), without, the filter's distinct-2 ratio.

    With the mix manifest (`mixes`), leakage counts the human rows near-duplicating a test
    row that reached a training mix; the mix stage leaves the ones the filter found out.
    `evidence` holds the per-unit scores behind the intervals and the quality floors;
    without it the estimated gates have no interval (and fail under `decision: interval`).
    """
    c = recipe.certify
    leakage, leak_note = report.get("train_test_leakage"), "human train rows near-duplicating a human test row"
    if mixes is not None:
        leakage = sum(m.get("leaking_human", 0) for m in mixes.get("mixes", []))
        leak_note = (f"human train rows near-duplicating a human test row used in a training mix "
                     f"({report.get('train_test_leakage')} found, {mixes.get('left_out_leaking_human', 0)} left out)")
    estimates = paired_estimates(recipe, evaluation, evidence)
    corpus = evidence.corpus if evidence else None
    diversity = [distinct2_gate(recipe, corpus)] if floors else [
        gate("distinct2_ratio", report.get("distinct2_ratio"), c.min_distinct2_ratio, ">=",
             "distinct-2 of the kept synthetic side / the human side")]
    return [
        reference_gate(recipe, estimates),
        estimate_gate("j_ratio", estimates["j_ratio"], c.min_j_ratio, ">=", c.decision,
                      f"J at synthetic ratio {recipe.mix.certified_ratio} / J of the human-only detoxifier, same run, "
                      "paired over the test inputs", depends_on="reference_margin"),
        gate("contamination", report.get("contamination"), c.max_contamination, "<=",
             "kept rows near-duplicating a human test row"),
        gate("train_test_leakage", leakage, 0, "<=", leak_note),
        gate("near_dup_rate", report.get("near_dup_rate"), c.max_near_dup_rate, "<="),
        gate("refusal_rate", report.get("refusal_rate"), c.max_refusal_rate, "<="),
        gate("copy_rate", report.get("copy_rate"), c.max_copy_rate, "<="),
        *floor_gates(recipe, corpus, floors),
        *diversity,
        gate("rows", report.get("kept"), c.min_rows, ">=", "kept synthetic rows"),
        gate("test_rows", stats.get("test"), c.min_test_rows, ">=", "human test rows"),
    ]


def language_gates(recipe: Recipe, rows_path: Path, human_language: bool = False) -> list[Gate]:
    """Kept rows per language, for every language the corpus has (and, with `human_language`, the human data's)."""
    rows = read_records(rows_path)
    kept = Counter(r.lang for r in rows if r.kept)
    languages = {r.lang for r in rows} | ({recipe.human.lang} if human_language else set())
    return [gate(f"rows[{lang}]", kept.get(lang, 0), recipe.certify.min_rows_per_language, ">=",
                 f"kept synthetic rows in language {lang}") for lang in sorted(languages)]




def headline(evaluation: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader looks at first."""
    systems = evaluation.get("systems", {})
    return {
        "J": {name: s.get("J") for name, s in systems.items()},
        "kept_rows": report.get("kept"),
        "distinct_2_synthetic": report.get("synthetic", {}).get("distinct_2"),
        "distinct_2_human": report.get("human", {}).get("distinct_2"),
    }


def j_intervals(recipe: Recipe, evaluation: dict[str, Any], evidence: Evidence) -> dict[str, Any]:
    """The 95% interval of J of every system (paired bootstrap over the test inputs)."""
    estimates = paired_estimates(recipe, evaluation, evidence)["J"]
    return {"J": {name: e.interval for name, e in estimates.items()}}
