"""Kind `translate`: translate human pairs into other languages (`factory.generate.translate`).

The pair family with the mixing study of a reference detoxifier, plus the cross-lingual grid
(`factory grid ...`, the DVC `grid-*` stages) and the SFT/DPO/seq2seq exports of every language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from factory.kinds.base import Release, Study
from factory.methods import Method, method_of
from factory.recipe import Recipe
from factory.core.layout import Layout

STUDY: Study = "mixing"
PAIRS = True
OWN_PIPELINE = False
GRID = True


def generate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Translate the human pairs into data/generated/<recipe>/."""
    from factory.generate import translate

    return translate.run(recipe, root=root, limit=limit)


def train(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Train the reference detoxifier on every mix."""
    from factory.train.pairs import run

    return run(recipe, root=root, limit=limit)


def evaluate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Score every mix's detoxifier (no corpus floors for translations)."""
    from factory.evaluate.pairs import run

    return run(recipe, root=root, limit=limit)


def certify(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Pair gates, per-language translation gates, then kept rows per language."""
    from factory.kinds.translate.certification import release

    return release(recipe, root, inputs)


def uses_generate_backend(recipe: Recipe) -> bool:
    """Always: the translations come from `generate.backend`."""
    return True


def method(recipe: Recipe) -> Method:
    """The method as the dataset card names it (`factory.methods`)."""
    return method_of(recipe.kind)


def cache_folders(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    """The train checkpoints of the mixes and of the grid settings."""
    from factory.train.grid import current_checkpoints as grid_checkpoints
    from factory.train.pairs import current_checkpoints

    return {"train": current_checkpoints, "grid": grid_checkpoints}


def export_corpus(recipe: Recipe, root: Path, kept: list) -> list:
    """Every language: the human pairs (each its own group), the kept translations, the translated test rows."""
    from factory.core.records import read_records

    root = Path(root)
    human = [r for split in ("train", "test") for r in read_records(Layout(root).human_split(recipe.name, split))]
    for record in human:
        record.group = record.id
    test = read_records(Layout(root).generated(recipe.name) / "test.parquet", kept_only=True)
    return human + kept + test


def extra_run(recipe: str, root: Path, limit: Optional[int]) -> None:
    """`factory run`: the cross-lingual grid (the exports follow, as for every kind with `GRID`)."""
    from factory.kinds.translate import cli

    cli.run_grid(recipe, root, limit)


def commands() -> dict[str, Any]:
    """`factory grid train|score|report|all`."""
    from factory.kinds.translate import cli

    return {"grid": (cli.grid_app, cli.GRID_COMMANDS)}
