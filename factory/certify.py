"""Stage `certify`: check the release against the recipe's gates and record provenance.

Writes data/certify/<recipe>/certificate.json: `certified` (every gate passed), each
gate's value, threshold, comparison and verdict, the headline metrics, and provenance
(recipe hash, git commit, dvc.lock hashes and certify's own hashes of its inputs, models
with revisions, sampling, training and evaluation settings, seeds, package versions,
profile). `summary.json` beside it holds the numbers alone, for `dvc metrics`.

Gates of pair kinds (toxify, detoxify): J of the certified mix's detoxifier / J of the
human-data detoxifier (ratio 0) of the same run; contamination of the kept rows and
train/test leakage of the human data (both must be 0 by default); near-duplicate,
refusal and copy rates; distinct-2 of the synthetic side / the human side; kept rows,
human test rows, and kept rows per language.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from factory import provenance
from factory.errors import check_limit
from factory.recipe import Recipe
from factory.records import atomic_dir, read_json, read_records, write_json


@dataclass
class Gate:
    """One certification gate: `value` compared with `threshold` by `op` (<= or >=)."""

    name: str
    value: float | None
    threshold: float
    op: str
    passed: bool
    note: str = ""


def gate(name: str, value: float | None, threshold: float, op: str, note: str = "") -> Gate:
    """Evaluate a gate; a missing or NaN value fails it."""
    ok = value is not None and not math.isnan(value)
    if ok:
        ok = value <= threshold if op == "<=" else value >= threshold
    return Gate(name, value, threshold, op, bool(ok), note)


def pair_gates(recipe: Recipe, report: dict[str, Any], evaluation: dict[str, Any], stats: dict[str, Any],
               mixes: dict[str, Any] | None = None) -> list[Gate]:
    """The gates of pair recipes (toxify, detoxify, translate).

    With the mix manifest (`mixes`), leakage counts the human rows near-duplicating a test
    row that reached a training mix; the mix stage leaves the ones the filter found out.
    """
    c = recipe.certify
    leakage, leak_note = report.get("train_test_leakage"), "human train rows near-duplicating a human test row"
    if mixes is not None:
        leakage = sum(m.get("leaking_human", 0) for m in mixes.get("mixes", []))
        leak_note = (f"human train rows near-duplicating a human test row used in a training mix "
                     f"({report.get('train_test_leakage')} found, {mixes.get('left_out_leaking_human', 0)} left out)")
    systems = evaluation.get("systems", {})
    human = systems.get("ratio-0.00", {}).get("J")
    chosen = systems.get(f"ratio-{recipe.mix.certified_ratio:.2f}", {}).get("J")
    j_ratio = chosen / human if chosen is not None and human else None
    return [
        gate("j_ratio", j_ratio, c.min_j_ratio, ">=",
             f"J at synthetic ratio {recipe.mix.certified_ratio} / J of the human-only detoxifier, same run"),
        gate("contamination", report.get("contamination"), c.max_contamination, "<=",
             "kept rows near-duplicating a human test row"),
        gate("train_test_leakage", leakage, 0, "<=", leak_note),
        gate("near_dup_rate", report.get("near_dup_rate"), c.max_near_dup_rate, "<="),
        gate("refusal_rate", report.get("refusal_rate"), c.max_refusal_rate, "<="),
        gate("copy_rate", report.get("copy_rate"), c.max_copy_rate, "<="),
        gate("distinct2_ratio", report.get("distinct2_ratio"), c.min_distinct2_ratio, ">=",
             "distinct-2 of the kept synthetic side / the human side"),
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


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write the certificate of the recipe's release."""
    check_limit(limit, "certify")
    root = Path(root)
    report = read_json(root / "filtered" / recipe.name / "report.json")
    evaluation = read_json(root / "eval" / recipe.name / "metrics.json")
    stats = read_json(root / "human" / recipe.name / "stats.json")
    manifest = root / "mixed" / recipe.name / "manifest.json"
    mixes = read_json(manifest) if manifest.exists() else None
    gates, metrics = pair_gates(recipe, report, evaluation, stats, mixes), headline(evaluation, report)
    if recipe.kind in ("distill", "selfgen"):
        from factory.certify_lm import lm_gates, lm_headline

        gates, metrics = lm_gates(recipe, report, evaluation, stats), lm_headline(evaluation, report)
    if recipe.kind == "translate":
        from factory.certify_translate import translate_gates, translate_headline

        gates = translate_gates(recipe, report, evaluation, stats, root, mixes)
        metrics = translate_headline(evaluation, report, recipe, root)
    gates += language_gates(recipe, root / "filtered" / recipe.name / "rows.parquet")
    certified = all(g.passed for g in gates)
    certificate = {
        "recipe": recipe.name,
        "certified": certified,
        "profile": recipe.profile,
        "gates": [asdict(g) for g in gates],
        "metrics": metrics,
        "metric_definitions": {"J": evaluation.get("definition"), "scores": evaluation.get("scores")},
        "provenance": provenance.collect(recipe, root),
    }
    out = root / "certify" / recipe.name
    with atomic_dir(out) as tmp:
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "summary.json", {"certified": int(certified), **{g.name: g.value for g in gates}})
    return out
