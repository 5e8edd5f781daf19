"""Kinds `toxify` and `detoxify`: an LLM rewrites one side of human pairs (`factory.generate.rewrite`).

The pair family: a seq2seq reference detoxifier trained on every mix of synthetic and human
pairs (the mixing study), scored with J; quality floors on the generated side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from factory.kinds.base import Release, Study
from factory.methods import Method, method_of
from factory.recipe import Recipe

STUDY: Study = "mixing"
PAIRS = True
OWN_PIPELINE = False
GRID = False


def scored_side(recipe: Recipe) -> str:
    """The side the generator writes: `toxic` for toxify, `neutral` for detoxify."""
    return "neutral" if recipe.kind == "detoxify" else "toxic"


def generate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Rewrite the human pairs' other side into data/generated/<recipe>/."""
    from factory.generate import rewrite

    return rewrite.run(recipe, recipe.kind, root=root, limit=limit)


def train(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Train the reference detoxifier on every mix."""
    from factory.train.pairs import run

    return run(recipe, root=root, limit=limit)


def evaluate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Score every mix's detoxifier, and the corpus on the generated side (for the floors)."""
    from factory.evaluate.pairs import run

    return run(recipe, root=root, limit=limit, corpus_side=scored_side(recipe))


def certify(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Pair gates with the kind's quality floors, then kept rows per language (the human one included)."""
    from factory.kinds.rewrite.certification import release

    return release(recipe, root, inputs)


def uses_generate_backend(recipe: Recipe) -> bool:
    """Always: the rewrites come from `generate.backend`."""
    return True


def method(recipe: Recipe) -> Method:
    """The method as the dataset card names it (`factory.methods`)."""
    return method_of(recipe.kind)


def cache_folders(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    """The train checkpoints of the mixes."""
    from factory.train.grid import current_checkpoints as grid_checkpoints
    from factory.train.pairs import current_checkpoints

    return {"train": current_checkpoints, "grid": grid_checkpoints}


def export_corpus(recipe: Recipe, root: Path, kept: list) -> list:
    """The kept synthetic pairs."""
    return kept


def extra_run(recipe: str, root: Path, limit: Optional[int]) -> None:
    """Nothing beyond the common stages."""


def commands() -> dict[str, Any]:
    """No extra commands."""
    return {}
