"""Certification of toxify and detoxify: the pair gates with quality floors of the generated side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.certify_evidence import Evidence
from factory.certify_floors import Floor
from factory.certify_pairs import headline, j_intervals
from factory.certify_pairs import language_gates as pair_language_gates
from factory.certify_pairs import pair_gates as common_pair_gates
from factory.core.gates import Gate
from factory.kinds.base import Release
from factory.recipe import Recipe
from factory.core.layout import Layout
from factory.core.reports import PairFilterReport

FLOORS: dict[str, tuple[Floor, ...]] = {
    "detoxify": (("sim_ratio", "SIM", "min_sim_ratio"), ("fl_ratio", "FL", "min_fl_ratio"),
                 ("sta_ratio", "STA", "min_sta_ratio")),
    "toxify": (("sim_ratio", "SIM", "min_sim_ratio"), ("fl_ratio", "FL", "min_fl_ratio"),
               ("toxicity_ratio", "toxicity", "min_toxicity_ratio")),
}
"""Quality floors of the generated side, per kind."""


def pair_gates(recipe: Recipe, report: dict[str, Any], evaluation: dict[str, Any], stats: dict[str, Any],
               mixes: dict[str, Any] | None = None, evidence: Evidence | None = None) -> list[Gate]:
    """`factory.certify_pairs.pair_gates` with the floors of the recipe's kind."""
    return common_pair_gates(recipe, report, evaluation, stats, mixes, evidence, floors=FLOORS[recipe.kind])


def language_gates(recipe: Recipe, rows_path: Path) -> list[Gate]:
    """Kept rows per language, the human data's language included."""
    return pair_language_gates(recipe, rows_path, human_language=True)


def release(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Gates, headline metrics and J intervals of a toxify or detoxify release."""
    report, evaluation = inputs["report"], inputs["evaluation"]
    PairFilterReport.parse(report, Layout(root).filter_report(recipe.name))
    evidence = Evidence.load(recipe, root, evaluation)
    gates = pair_gates(recipe, report, evaluation, inputs["stats"], inputs["mixes"], evidence)
    gates += language_gates(recipe, Layout(root).filtered_rows(recipe.name))
    return Release(gates, headline(evaluation, report), j_intervals(recipe, evaluation, evidence), "test inputs")
