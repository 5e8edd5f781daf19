"""Kinds `distill` (UniDetox) and `selfgen` (SGEAT): detoxify a language model with generated text.

The LM family: free text rows (no pairs), target LMs fine-tuned on the text at every mix, and
base vs detoxified target LMs compared on toxicity prompts (EMT, TP, PPL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from factory.kinds.base import Release, Study
from factory.methods import Method, method_of
from factory.recipe import Recipe

STUDY: Study = "lm"
PAIRS = False
OWN_PIPELINE = False
GRID = False


def generate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Distill (contrastive decoding) or self-generate text into data/generated/<recipe>/."""
    if recipe.kind == "distill":
        from factory.generate import distill

        return distill.run(recipe, root=root, limit=limit)
    from factory.generate import selfgen

    return selfgen.run(recipe, root=root, limit=limit)


def train(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Fine-tune every target LM on every mix."""
    from factory.train.causal import run

    return run(recipe, root=root, limit=limit)


def evaluate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Compare base and detoxified target LMs on the toxicity prompts."""
    from factory.evaluate.lm import run

    return run(recipe, root=root, limit=limit)


def certify(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """EMT/TP/PPL gates per target, then kept rows per language."""
    from factory.kinds.lm.certification import release

    return release(recipe, root, inputs)


def uses_generate_backend(recipe: Recipe) -> bool:
    """selfgen samples from `generate.backend`; distill decodes with local models."""
    return recipe.kind != "distill"


def method(recipe: Recipe) -> Method:
    """The method as the dataset card names it (`factory.methods`)."""
    return method_of(recipe.kind)


def cache_folders(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    """The target LMs' train checkpoints (and, for distill, the toxic copies of the generator)."""
    from factory.train.causal import current_checkpoints
    from factory.train.grid import current_checkpoints as grid_checkpoints

    folders: dict[str, Callable[[Recipe, Path], list[Path]]] = {"train": current_checkpoints,
                                                                "grid": grid_checkpoints}
    if recipe.kind == "distill":
        from factory.generate.distill import current_toxic_folders

        folders["toxic"] = current_toxic_folders
    return folders


def export_corpus(recipe: Recipe, root: Path, kept: list) -> list:
    """Never called: LM kinds make free text (`PAIRS` is false), `factory export` refuses them."""
    return []


def extra_run(recipe: str, root: Path, limit: Optional[int]) -> None:
    """Nothing beyond the common stages."""


def commands() -> dict[str, Any]:
    """No extra commands."""
    return {}
