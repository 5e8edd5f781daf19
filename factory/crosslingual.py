"""The cross-lingual grid's layout and row selection, shared by its train and evaluate steps.

Layout under data/grid/<recipe>/:

- `trained/<setting>/`: the reference detoxifier of one train setting (`en`, `en+de`).
- `cells/<setting>__<lang>/`: its scores on one eval language (metrics.json, rows.parquet).
- `report/`: grid.json (every cell), grid.csv and heatmap.png.

Rows of a language come from the pipeline's folders: the source language (`human.lang`)
from the human split (data/human/<recipe>/{train,test}.parquet); a target language from
the kept rows of data/filtered/<recipe>/rows.parquet (train) or of
data/generated/<recipe>/test.parquet (test), restricted to human rows, translations, or
both (`grid.train_rows`, `grid.test_rows`). Caps take a sample seeded by recipe seed and
language, so every setting sees the same rows of a language.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from factory.core.errors import FactoryError
from factory.recipe import Recipe
from factory.core.records import Record, read_records
from factory.core.layout import Layout


def grid_dir(root: Path, recipe: Recipe) -> Path:
    """data/grid/<recipe>/."""
    return Layout(root).grid(recipe.name)


def trained_dir(root: Path, recipe: Recipe, setting: str) -> Path:
    """Folder of the detoxifier trained for `setting`."""
    return grid_dir(root, recipe) / "trained" / setting


def cell_dir(root: Path, recipe: Recipe, setting: str, lang: str) -> Path:
    """Folder of the scores of `setting` on eval language `lang`."""
    return grid_dir(root, recipe) / "cells" / f"{setting}__{lang}"


def report_dir(root: Path, recipe: Recipe) -> Path:
    """Folder of the grid report (table and heat map)."""
    return grid_dir(root, recipe) / "report"


def require_setting(recipe: Recipe, setting: str) -> None:
    """Error unless `setting` is one of the recipe's grid.train settings."""
    if setting not in recipe.grid.train:
        raise FactoryError(f"{recipe.path or recipe.name}: grid.train has no setting {setting!r} "
                           f"(settings: {', '.join(recipe.grid.train)})")


def require_eval_language(recipe: Recipe, lang: str) -> None:
    """Error unless `lang` is one of the recipe's grid.eval languages."""
    if lang not in recipe.grid.eval:
        raise FactoryError(f"{recipe.path or recipe.name}: grid.eval has no language {lang!r} "
                           f"(languages: {', '.join(recipe.grid.eval)})")


def _selected(rows: Sequence[Record], lang: str, selection: str) -> list[Record]:
    chosen = [r for r in rows if r.kept and r.lang == lang and r.kind == "pair"]
    if selection == "human":
        return [r for r in chosen if not r.attributes.get("translated")]
    if selection == "translated":
        return [r for r in chosen if r.attributes.get("translated")]
    return chosen


def _sample(rows: list[Record], cap: int | None, seed: str) -> list[Record]:
    if cap is None or len(rows) <= cap:
        return rows
    return random.Random(seed).sample(rows, cap)


def language_rows(recipe: Recipe, root: Path, lang: str, split: str) -> list[Record]:
    """The kept pairs of `lang` in `split` (train or test), selected and capped as the grid says."""
    root, grid = Path(root), recipe.grid
    if lang == recipe.human.lang:
        rows = read_records(Layout(root).human_split(recipe.name, split), kept_only=True)
        rows = [r for r in rows if r.lang == lang]
    elif split == "train":
        rows = _selected(read_records(Layout(root).filtered_rows(recipe.name)), lang, grid.train_rows)
    else:
        rows = _selected(read_records(Layout(root).generated(recipe.name) / "test.parquet"), lang, grid.test_rows)
    cap = grid.max_train_rows if split == "train" else None
    return _sample(rows, cap, f"{recipe.seed}:{lang}:{split}")
