"""The typer arguments and options the kinds' own commands share (`factory grid ...`, `factory crosslingual ...`).

`factory.cli` registers those commands (a kind may not import the CLI, which is above it), so the
common pieces live here, one layer down: the data root, the row limit, and the loading of a recipe
that must be of the command's kind.
"""

from __future__ import annotations

from pathlib import Path

import typer

from factory.core.errors import FactoryError
from factory.recipe import Recipe, load_recipe, recipe_path

RootOpt = typer.Option(Path("data"), "--root", help="Data folder of the pipeline.")
LimitOpt = typer.Option(None, "--limit", min=1, help="Use at most this many rows (for quick trials).")


def recipe_arg(example: str) -> typer.models.ArgumentInfo:
    """The recipe argument, with an example recipe of the kind in its help."""
    return typer.Argument(..., help=f"Recipe file (recipes/tiny/{example}.yaml) or name ({example}).")


def kind_recipe(recipe: str, kind: str, what: str) -> Recipe:
    """The recipe at `recipe` (a file or name); one that is not of `kind` is refused (`what` names the commands)."""
    loaded = load_recipe(recipe_path(recipe))
    if loaded.kind != kind:
        raise FactoryError(f"{loaded.path}: kind {loaded.kind}: {what} belong to {kind} recipes")
    return loaded
