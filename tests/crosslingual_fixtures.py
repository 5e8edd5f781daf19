"""Hand-made stage outputs of a `crosslingual` recipe for the release report: no model runs.

`make_crosslingual_outputs(root, recipe)` writes what generate, train and evaluate write under
data/crosslingual/<recipe>/ (split.json, trained/summary.json, eval/rows.parquet, matrices.json
and the three heat maps, rendered for real), from made-up scores in which fine-tuning lowers the
toxicity; then runs the real `certify` on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.crossft.heatmaps import heatmap_png
from factory.crossft.matrices import METRICS, ZERO_SHOT, build_cells
from factory.kinds.crosslingual.steps import planned_runs, setting_label
from factory.recipe import Recipe
from factory.core.records import write_json

PROMPTS = 6


def _split(recipe: Recipe) -> dict[str, Any]:
    langs = recipe.crosslingual.data.languages
    return {"shuffle_seed": 42, "train_rows": 4, "test_rows": PROMPTS, "languages": {
        lang: {"source": "fixture", "rows": 12, "empty_sides": 0,
               "train": [[f"toxic {lang} {i}", f"neutral {lang} {i}"] for i in range(4)],
               "test": [[f"test {lang} {i}", f"clean {lang} {i}"] for i in range(PROMPTS)]} for lang in langs},
        "corpus": {"source": "data/filtered/translate/rows.parquet", "kept_rows_read": 5,
                   "dropped": {"not a pair": 1, "language not evaluated": 0}, "train": {langs[0]: [["a", "b"]]}}}


def _rows(settings: list[str], langs: list[str]) -> list[dict[str, Any]]:
    rows = []
    for rank, setting in enumerate(settings):
        for lang in langs:
            for i in range(PROMPTS):
                noise = 0.02 * i + 0.01 * (i * (rank + 1) % 3)
                toxicity = None if (setting, i) == (settings[-1], 0) else max(0.6 - 0.05 * rank + noise, 0.0)
                rows.append({"setting": setting, "lang": lang, "index": i, "continuation": f"<b>{setting} {i}</b>",
                             "toxicity": toxicity, "perplexity": 20.0 + rank + i})
    return rows


def make_crosslingual_outputs(root: Path, recipe: Recipe) -> None:
    """Write the kind's split, training summary and eval outputs under `root`, then certify them."""
    import pandas as pd

    from factory.kinds.crosslingual.certification import certify

    base = Path(root) / "crosslingual" / recipe.name
    langs = recipe.crosslingual.data.languages
    write_json(base / "split" / "split.json", _split(recipe))
    summary = {setting_label(*run): {"rows": 12, "steps": 3, "train_loss": 2.5, "method": run[0], "data": run[1],
                                     "share": run[2], "resumed_from": None, "languages": langs}
               for run in planned_runs(recipe)}
    write_json(base / "trained" / "summary.json", summary)
    settings = [ZERO_SHOT, *summary]
    rows = _rows(settings, langs)
    cells = build_cells(rows, 100, 0)
    (base / "eval").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(base / "eval" / "rows.parquet", index=False)
    models = {"toxicity": {"ref": "zoo:toxicity", "revision": None, "fallback_used": False},
              "perplexity": {"ref": "zoo:causal-lm", "revision": None}, "model": {"ref": "zoo:causal-lm"}}
    write_json(base / "eval" / "matrices.json", {"settings": settings, "languages": langs, "models": models,
                                                 "prompts_per_language": {lang: PROMPTS for lang in langs},
                                                 "cells": [cell.as_dict() for cell in cells]})
    for metric in METRICS:
        (base / "eval" / f"heatmap-{metric}.png").write_bytes(heatmap_png(cells, metric, settings, langs,
                                                                          recipe.name))
    certify(recipe, Path(root))
