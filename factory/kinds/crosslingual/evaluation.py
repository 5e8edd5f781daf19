"""Stage `evaluate` of kind `crosslingual`: every cell, then the matrices and heat maps.

`evaluate_all` (what `factory evaluate` and `factory run` call) scores every (setting, eval language)
cell in one process, sharing the loaded models (`factory.kinds.crosslingual.cells`), then assembles.
Under DVC each cell is a stage of its own (`factory crosslingual evaluate --setting --lang`) and
`assemble` is the `evaluate-<recipe>` stage: it reads every cell and writes eval/rows.parquet,
matrices.json (every cell of every prompt set with 95% intervals, and each trained setting's
zero-shot baseline) and the heat maps: `heatmap-<metric>.png` for the test toxic prompts (the
certified set), `heatmap-<set>-<metric>.png` for the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.records import atomic_dir, write_json
from factory.crossft.matrices import METRICS, build_cells
from factory.kinds.crosslingual.cells import (CellModels, baseline_of, cell_paths, eval_settings, evaluate_cell,
                                              toxicity_spec)
from factory.kinds.crosslingual.naming import CERTIFIED_SET, base_dir, heatmap_name, read_rows
from factory.kinds.crosslingual.steps import read_upstream
from factory.recipe import Recipe


def scorer_names(recipe: Recipe) -> dict[str, Any]:
    """The exact models behind the numbers (the certificate and card name them)."""
    cl = recipe.crosslingual
    tox = toxicity_spec(recipe)
    return {"toxicity": {"ref": tox.ref, "revision": tox.revision, "fallback_used": tox is not cl.toxicity},
            "perplexity": {"ref": cl.perplexity_model.ref, "revision": cl.perplexity_model.revision},
            "model": {"ref": cl.model.ref, "revision": cl.model.revision}}


def heatmap_names(recipe: Recipe) -> list[str]:
    """Every heat map `assemble` writes, for the DVC stage's outs."""
    return [heatmap_name(s, m) for s in recipe.crosslingual.prompt_sets for m in METRICS]


def evaluate_all(recipe: Recipe, root: Path, limit: int | None) -> Path:
    """Score every cell (baselines first, models loaded once per process), then `assemble`."""
    _require_quantization(recipe)
    read_upstream(recipe, base_dir(recipe, root) / "split" / "split.json", "generate")
    models = CellModels(recipe, root)
    for setting in eval_settings(recipe):
        for lang in recipe.crosslingual.data.languages:
            evaluate_cell(recipe, root, setting, lang, limit, models)
    return assemble(recipe, root)


def _require_quantization(recipe: Recipe) -> None:
    from factory.crossft.training import require_quantization

    require_quantization(recipe.crosslingual.quantization, f"{recipe.path or recipe.name}: crosslingual.quantization")


def _all_rows(recipe: Recipe, root: Path) -> list[dict[str, Any]]:
    where = recipe.path or recipe.name
    rows = []
    for setting in eval_settings(recipe):
        for lang in recipe.crosslingual.data.languages:
            rows += read_rows(cell_paths(recipe, root, setting, lang)[0],
                              f"factory crosslingual evaluate {where} --setting {setting} --lang {lang}")
    return rows


def assemble(recipe: Recipe, root: Path) -> Path:
    """Write eval/rows.parquet, matrices.json and the heat maps from every cell's rows."""
    import pandas as pd

    from factory.crossft.heatmaps import heatmap_png

    rows = _all_rows(recipe, root)
    settings, langs = list(eval_settings(recipe)), list(recipe.crosslingual.data.languages)
    baselines = {s: b for s in settings if (b := baseline_of(recipe, s)) is not None}
    c = recipe.crosslingual.certify
    cells = build_cells(rows, c.bootstrap_resamples, c.bootstrap_seed, baselines)
    sets = list(recipe.crosslingual.prompt_sets)
    counts = {name: {lang: sum(1 for r in rows if r["set"] == name and r["lang"] == lang
                               and r["setting"] == settings[0]) for lang in langs} for name in sets}
    out = base_dir(recipe, root) / "eval"
    with atomic_dir(out) as tmp:
        pd.DataFrame(rows).to_parquet(tmp / "rows.parquet", index=False)
        write_json(tmp / "matrices.json", {
            "settings": settings, "languages": langs, "sets": sets, "certified_set": CERTIFIED_SET,
            "baselines": baselines, "models": scorer_names(recipe), "prompts_per_language": counts[CERTIFIED_SET],
            "prompts_per_set": counts, "cells": [cell.as_dict() for cell in cells]})
        for name in sets:
            chosen = [cell for cell in cells if cell.set == name]
            for metric in METRICS:
                title = recipe.name if name == CERTIFIED_SET else f"{recipe.name} ({name})"
                (tmp / heatmap_name(name, metric)).write_bytes(heatmap_png(chosen, metric, settings, langs, title))
    return out
