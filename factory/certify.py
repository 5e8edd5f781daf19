"""Stage `certify`: check the release against the recipe's gates and record provenance.

Writes data/certify/<recipe>/certificate.json: `verdict` ("certified", "not_certified" or
"inconclusive") with its `reason`, `certified` (true only when certified, for older
readers), each gate's value, 95% interval, threshold, comparison and verdict, the
bootstrap settings (`statistics`), the intervals of every system's metrics (`intervals`),
the headline metrics, and provenance (recipe hash, git commit, dvc.lock hashes and
certify's own hashes of its inputs, models with revisions, sampling, training and
evaluation settings, seeds, package versions, profile). `summary.json` beside it holds
the numbers alone, for `dvc metrics`.

Gates of pair kinds (toxify, detoxify): the reference margin (below); J of the certified
mix's detoxifier / J of the human-data detoxifier (ratio 0) of the same run; contamination
of the kept rows and train/test leakage of the human data (both must be 0 by default);
near-duplicate, refusal and copy rates; the quality floors of the synthetic side and
distinct-2 of the synthetic side / the human side above them; kept rows, human test rows,
and kept rows per language.

Statistical power (`factory.gates`, `factory.bootstrap`): first the reference gate
`reference_margin` checks that the human-data detoxifier beats copying the input (the
`identity` system) by `certify.min_reference_margin` in J; if it does not, the test cannot
tell good data from bad, the J ratio is inconclusive and so is the release (verdict
`inconclusive`, neither certified nor failed). J of every system, the reference margin and
the J ratio get 95% intervals from a paired bootstrap over the test inputs (the per-input
scores of data/eval/<recipe>/rows.parquet); toxify and detoxify also get quality floors on
the synthetic side and diversity above them (`factory.certify_floors`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from factory import provenance
from factory.errors import check_limit
from factory.certify_evidence import HUMAN, IDENTITY, Evidence, paired_estimates
from factory.certify_floors import FLOORS, distinct2_gate, floor_gates
from factory.gates import Gate, estimate_gate, format_interval, gate, settle, verdict_of
from factory.recipe import Recipe
from factory.records import atomic_dir, read_json, read_records, write_json

__all__ = ["Gate", "gate", "pair_gates", "language_gates", "headline", "run"]


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
               mixes: dict[str, Any] | None = None, evidence: Evidence | None = None) -> list[Gate]:
    """The gates of pair recipes (toxify, detoxify, translate), the reference gate first.

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
    diversity = [distinct2_gate(recipe, corpus)] if recipe.kind in FLOORS else [
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
        *floor_gates(recipe, corpus),
        *diversity,
        gate("rows", report.get("kept"), c.min_rows, ">=", "kept synthetic rows"),
        gate("test_rows", stats.get("test"), c.min_test_rows, ">=", "human test rows"),
    ]


def language_gates(recipe: Recipe, rows_path: Path) -> list[Gate]:
    """Kept rows per language, for every language the corpus has (and the human data's, for pair kinds)."""
    rows = read_records(rows_path)
    kept = Counter(r.lang for r in rows if r.kept)
    languages = {r.lang for r in rows} | ({recipe.human.lang} if recipe.kind in ("toxify", "detoxify") else set())
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


def _pair_release(recipe: Recipe, root: Path, report: dict[str, Any], evaluation: dict[str, Any],
                  stats: dict[str, Any], mixes: dict[str, Any] | None) -> tuple[list[Gate], dict, dict, str]:
    """Gates, headline metrics and J intervals of a pair kind (toxify, detoxify, translate)."""
    evidence = Evidence.load(recipe, root, evaluation)
    if recipe.kind == "translate":
        from factory.certify_translate import translate_gates, translate_headline

        gates = translate_gates(recipe, report, evaluation, stats, root, mixes, evidence)
        metrics = translate_headline(evaluation, report, recipe, root)
    else:
        gates, metrics = pair_gates(recipe, report, evaluation, stats, mixes, evidence), headline(evaluation, report)
    estimates = paired_estimates(recipe, evaluation, evidence)["J"]
    return gates, metrics, {"J": {name: e.interval for name, e in estimates.items()}}, "test inputs"


def _lm_release(recipe: Recipe, root: Path, report: dict[str, Any], evaluation: dict[str, Any],
                stats: dict[str, Any]) -> tuple[list[Gate], dict, dict, str]:
    """Gates, headline metrics and EMT/TP/PPL intervals of an LM kind (distill, selfgen)."""
    from factory.certify_lm import lm_gates, lm_headline, lm_intervals, load_prompt_scores

    prompts = load_prompt_scores(root / "eval" / recipe.name / "rows.parquet", evaluation)
    return (lm_gates(recipe, report, evaluation, stats, prompts), lm_headline(evaluation, report),
            lm_intervals(recipe, prompts), "prompts")


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write the certificate of the recipe's release."""
    check_limit(limit, "certify")
    root = Path(root)
    report = read_json(root / "filtered" / recipe.name / "report.json")
    evaluation = read_json(root / "eval" / recipe.name / "metrics.json")
    stats = read_json(root / "human" / recipe.name / "stats.json")
    manifest = root / "mixed" / recipe.name / "manifest.json"
    mixes = read_json(manifest) if manifest.exists() else None
    if recipe.kind in ("distill", "selfgen"):
        gates, metrics, intervals, unit = _lm_release(recipe, root, report, evaluation, stats)
    else:
        gates, metrics, intervals, unit = _pair_release(recipe, root, report, evaluation, stats, mixes)
    gates = settle(gates + language_gates(recipe, root / "filtered" / recipe.name / "rows.parquet"))
    verdict, reason = verdict_of(gates)
    certified = verdict == "certified"
    c = recipe.certify
    certificate = {
        "recipe": recipe.name,
        "certified": certified,
        "verdict": verdict,
        "reason": reason,
        "profile": recipe.profile,
        "statistics": {"decision": c.decision, "interval": "95% percentile bootstrap", "resampled": unit,
                       "resamples": c.bootstrap_resamples, "seed": c.bootstrap_seed},
        "gates": [asdict(g) for g in gates],
        "intervals": intervals,
        "metrics": metrics,
        "metric_definitions": {"J": evaluation.get("definition"), "scores": evaluation.get("scores")},
        "provenance": provenance.collect(recipe, root),
    }
    out = root / "certify" / recipe.name
    with atomic_dir(out) as tmp:
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "summary.json", {"certified": int(certified), "inconclusive": int(verdict == "inconclusive"),
                                           **{g.name: g.value for g in gates}})
    return out
