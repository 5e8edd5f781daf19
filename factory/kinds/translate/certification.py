"""Certification gates of the `translate` kind, per target language and over all of them.

Overall, the corpus gates of every pair kind (`factory.stages.certify.pair_gates`: the reference
margin and the mixing study's J ratio on the source language, with their paired-bootstrap
intervals, contamination, leakage, duplicate, refusal and copy rates, row counts) except
the distinct-2 ratio, which would compare text in different languages. The synthetic-side
quality floors of toxify and detoxify are not applied: the per-language gates below are
this kind's floors (translation and pair similarity, toxicity kept and removed).

Then, for each target language L and for `all` languages, on the final rows of
data/filtered (train) and data/generated/.../test.parquet (test), with the thresholds of
`translate.gates`:

- test_rows[L]: kept test pairs.
- language_agreement[L]: share of sides, over every row, that language ID assigns to L.
- translation_similarity[L]: mean source-translation cosine of kept translations
  (passes with a note when L has no kept translations).
- pair_similarity[L]: mean toxic-neutral cosine of kept pairs.
- toxic_rate[L] / neutral_rate[L]: toxicity preserved on the toxic side / removed on the
  neutral side, by the toxicity classifier.

Kept rows per language are gated by `factory.stages.certify.language_gates`, as for every kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.certify_pairs import pair_gates
from factory.core.gates import Gate, gate
from factory.certify_evidence import Evidence
from factory.checks_translate import language_summary
from factory.recipe import Recipe
from factory.core.records import read_records
from factory.core.layout import Layout
from factory.core.reports import PairFilterReport
from factory.kinds.base import Release


def language_stats(recipe: Recipe, root: Path) -> dict[str, dict[str, Any]]:
    """`checks_translate.summarise` of train rows per language, with test counts and agreement over both."""
    threshold = recipe.translate.checks.toxicity_threshold
    train = read_records(Layout(root).filtered_rows(recipe.name))
    test = read_records(Layout(root).generated(recipe.name) / "test.parquet")
    stats = language_summary(train, threshold)
    both = language_summary(train + test, threshold)
    tested = language_summary(test, threshold)
    for lang, entry in stats.items():
        entry["test_kept"] = tested.get(lang, {}).get("kept", 0)
        entry["language_agreement"] = both[lang]["language_agreement"]
    return stats


def _language_gates(recipe: Recipe, lang: str, entry: dict[str, Any]) -> list[Gate]:
    g = recipe.translate.gates
    similarity = gate(f"translation_similarity[{lang}]", entry["translation_similarity"], g.min_translation_similarity,
                      ">=", "mean cosine of kept translations and their sources")
    if not entry["kept_translated"]:
        similarity = Gate(similarity.name, None, g.min_translation_similarity, ">=", True,
                          "skipped: no kept translations in this language")
    return [
        gate(f"test_rows[{lang}]", entry["test_kept"], g.min_test_rows_per_language, ">=", "kept test pairs"),
        gate(f"language_agreement[{lang}]", entry["language_agreement"], g.min_language_agreement, ">=",
             "share of sides identified as the declared language, all rows"),
        similarity,
        gate(f"pair_similarity[{lang}]", entry["pair_similarity"], g.min_pair_similarity, ">=",
             "mean cosine of toxic and neutral side, kept pairs"),
        gate(f"toxic_rate[{lang}]", entry["toxic_rate"], g.min_toxic_rate, ">=",
             "kept toxic sides scored toxic (toxicity preserved)"),
        gate(f"neutral_rate[{lang}]", entry["neutral_rate"], g.min_neutral_rate, ">=",
             "kept neutral sides scored non-toxic (toxicity removed)"),
    ]


def translate_gates(recipe: Recipe, report: dict[str, Any], evaluation: dict[str, Any], stats: dict[str, Any],
                    root: Path, mixes: dict[str, Any] | None = None, evidence: Evidence | None = None) -> list[Gate]:
    """Overall corpus gates (leakage counted on the training mixes when `mixes`, the mix
    manifest, is given; the reference and J-ratio intervals from `evidence`, loaded from
    `root` when not given), then the per-language gates of every target language and of `all`."""
    evidence = evidence or Evidence.load(recipe, root, evaluation)
    gates = [g for g in pair_gates(recipe, report, evaluation, stats, mixes, evidence) if g.name != "distinct2_ratio"]
    per_language = language_stats(recipe, root)
    for lang in [*recipe.translate.languages, "all"]:
        entry = per_language.get(lang)
        if entry is None:
            gates.append(gate(f"rows[{lang}]", 0, max(1, recipe.certify.min_rows_per_language), ">=",
                              "no rows at all in this language"))
            continue
        gates += _language_gates(recipe, lang, entry)
    return gates


def translate_headline(evaluation: dict[str, Any], report: dict[str, Any], recipe: Recipe,
                       root: Path) -> dict[str, Any]:
    """Kept rows and check statistics per language, with the mixing study's J on the source language."""
    return {
        "J_source_language": {name: s.get("J") for name, s in evaluation.get("systems", {}).items()},
        "kept_rows": report.get("kept"),
        "languages": language_stats(recipe, root),
    }


def release(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Gates, headline metrics and J intervals of a translate release, then kept rows per language."""
    from factory.certify_pairs import j_intervals, language_gates

    report, evaluation = inputs["report"], inputs["evaluation"]
    PairFilterReport.parse(report, Layout(root).filter_report(recipe.name))
    evidence = Evidence.load(recipe, root, evaluation)
    gates = translate_gates(recipe, report, evaluation, inputs["stats"], root, inputs["mixes"], evidence)
    gates += language_gates(recipe, Layout(root).filtered_rows(recipe.name))
    return Release(gates, translate_headline(evaluation, report, recipe, root),
                   j_intervals(recipe, evaluation, evidence), "test inputs")
