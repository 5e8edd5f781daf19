"""Evaluation step of the cross-lingual grid: every train setting on every eval language.

A cell (setting, language) greedy-decodes the language's unique toxic test inputs with
the setting's detoxifier and scores them with the multilingual joint score
(`factory.metrics.MULTILINGUAL_J_DEFINITION`): STA from `models.toxicity`, SIM from
`models.similarity`, ChrF against the human references. The identity system (the input
copied) is scored beside it as the floor every detoxifier should beat on STA.

The report gathers every cell into grid.json and grid.csv and renders the J heat map
(train setting x eval language) to heatmap.png, offline.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from factory import crosslingual, metrics
from factory.core.errors import FactoryError
from factory.evaluate.paradetox import detoxify, test_inputs
from factory.models.loading import load_similarity, load_toxicity
from factory.plots import grid_heatmap_png
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, read_json, write_json, write_records

CSV_FIELDS = ("setting", "lang", "rows", "J", "STA", "SIM", "ChrF", "identity_J")


class GridScorers:
    """Toxicity and similarity models of the multilingual J, loaded once."""

    def __init__(self, recipe: Recipe, root: Path):
        self.toxicity = load_toxicity(recipe.models.toxicity, root)
        self.similarity = load_similarity(recipe.models.similarity, root)
        self.mode = recipe.evaluate.scores

    def score(self, inputs: Sequence[str], outputs: Sequence[str],
              references: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
        """Per-input STA, SIM, ChrF and J."""
        sta = metrics.as_scores(1.0 - self.toxicity(outputs), self.mode)
        sim = np.clip(self.similarity.pairwise(inputs, outputs), 0.0, 1.0)
        chrf = metrics.sentence_chrf(outputs, references)
        return {"STA": sta, "SIM": sim, "ChrF": chrf, "J": metrics.joint_scores(sta, sim, chrf)}


def _summary(scores: dict[str, np.ndarray]) -> dict[str, float]:
    return metrics.multilingual_summary(scores["STA"], scores["SIM"], scores["ChrF"])


def score_cell(recipe: Recipe, setting: str, lang: str, *, root: Path = Path("data"), limit: int | None = None,
               scorers: GridScorers | None = None) -> Path:
    """Score the detoxifier of `setting` on `lang`; write data/grid/<recipe>/cells/<setting>__<lang>/."""
    crosslingual.require_setting(recipe, setting)
    crosslingual.require_eval_language(recipe, lang)
    inputs, references = test_inputs(crosslingual.language_rows(recipe, root, lang, "test"),
                                     limit or recipe.grid.max_test_rows)
    if not inputs:
        raise FactoryError(f"{recipe.path or recipe.name}: no kept test pairs in {lang!r} for the grid "
                           "(see data/generated/<recipe>/stats.json)")
    model_dir = crosslingual.trained_dir(root, recipe, setting) / "model"
    if not model_dir.is_dir():
        raise FactoryError(f"{model_dir}: not trained yet; run `factory grid train {recipe.path or recipe.name} "
                           f"--setting {setting}` first")
    scorers = scorers or GridScorers(recipe, root)
    outputs = detoxify(model_dir, inputs, recipe)
    model_scores, identity_scores = (scorers.score(inputs, outputs, references),
                                     scorers.score(inputs, inputs, references))
    rows = []
    for i, (source, output) in enumerate(zip(inputs, outputs)):
        record = Record.make("pair", lang=lang, toxic=source, neutral=output, source=f"eval:grid:{setting}",
                             recipe=recipe.name, split="test")
        record.attributes = {"system": setting, **{k: float(v[i]) for k, v in model_scores.items()}}
        rows.append(record)
    out = crosslingual.cell_dir(root, recipe, setting, lang)
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", {"setting": setting, "lang": lang, "rows": len(inputs),
                                          "definition": metrics.MULTILINGUAL_J_DEFINITION, "scores": scorers.mode,
                                          "model": _summary(model_scores), "identity": _summary(identity_scores)})
        write_records(tmp / "rows.parquet", rows)
    return out


def score_all(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> list[Path]:
    """Score every (setting, eval language) cell, sharing one set of scoring models."""
    scorers = GridScorers(recipe, root)
    return [score_cell(recipe, setting, lang, root=root, limit=limit, scorers=scorers)
            for setting in recipe.grid.train for lang in recipe.grid.eval]


def collect_cells(recipe: Recipe, root: Path) -> list[dict]:
    """One flat row per cell (setting, lang, rows, J, STA, SIM, ChrF, identity_J); error if any is missing."""
    cells, missing = [], []
    for setting in recipe.grid.train:
        for lang in recipe.grid.eval:
            path = crosslingual.cell_dir(root, recipe, setting, lang) / "metrics.json"
            if not path.exists():
                missing.append(f"{setting}__{lang}")
                continue
            cell = read_json(path)
            cells.append({"setting": setting, "lang": lang, "rows": cell["rows"], **cell["model"],
                          "identity_J": cell["identity"]["J"]})
    if missing:
        raise FactoryError(f"{recipe.path or recipe.name}: grid cells not scored yet: {', '.join(missing)} "
                           "(run `factory grid score` for them)")
    return cells


def report(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/grid/<recipe>/report/{grid.json, grid.csv, heatmap.png}."""
    cells = collect_cells(recipe, root)
    out = crosslingual.report_dir(root, recipe)
    with atomic_dir(out) as tmp:
        write_json(tmp / "grid.json", {"recipe": recipe.name, "profile": recipe.profile,
                                       "definition": metrics.MULTILINGUAL_J_DEFINITION, "settings": recipe.grid.train,
                                       "languages": recipe.grid.eval, "cells": cells})
        with (tmp / "grid.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: round(v, 6) if isinstance(v, float) else v for k, v in c.items()} for c in cells)
        title = f"{recipe.name}: multilingual J (train setting x eval language, {recipe.profile} profile)"
        (tmp / "heatmap.png").write_bytes(grid_heatmap_png(cells, title))
    return out


def run_all(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Score every cell, then write the report."""
    score_all(recipe, root=root, limit=limit)
    return report(recipe, root=root)
