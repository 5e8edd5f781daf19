"""Commands of the `translate` kind: `factory grid train|score|report|all`.

The grid commands are what the DVC `matrix` stages call, one cell at a time; without
`--setting` / `--lang` they cover every setting / language of the recipe's grid.
`factory.cli` registers these functions through `factory.kinds.translate.commands`, wrapped so that
input problems exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from factory.kinds.command_options import LimitOpt, RootOpt, kind_recipe, recipe_arg
from factory.recipe import Recipe

grid_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Cross-lingual grid of a translate recipe: train settings x eval languages.")

RecipeArg = recipe_arg("translate")
SettingOpt = typer.Option(None, "--setting", help="One train setting of grid.train (default: every setting).")
LangOpt = typer.Option(None, "--lang", help="One eval language of grid.eval (default: every language).")


def _translate_recipe(recipe: str) -> Recipe:
    return kind_recipe(recipe, "translate", "the grid commands")


def train(recipe: str = RecipeArg, setting: Optional[str] = SettingOpt, root: Path = RootOpt,
          limit: Optional[int] = LimitOpt) -> None:
    """Train the reference detoxifier of one setting (or of every setting)."""
    from factory.train.grid import train_setting

    loaded = _translate_recipe(recipe)
    for name in [setting] if setting else loaded.grid.train:
        typer.echo(f"grid train: wrote {train_setting(loaded, name, root=root, limit=limit)}")


def score(recipe: str = RecipeArg, setting: Optional[str] = SettingOpt, lang: Optional[str] = LangOpt,
          root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Score trained settings on eval languages: one cell, a row or column, or every cell."""
    from factory.evaluate.grid import GridScorers, score_cell

    loaded = _translate_recipe(recipe)
    scorers = GridScorers(loaded, root)
    for name in [setting] if setting else loaded.grid.train:
        for language in [lang] if lang else loaded.grid.eval:
            out = score_cell(loaded, name, language, root=root, limit=limit, scorers=scorers)
            typer.echo(f"grid score: wrote {out}")


def report(recipe: str = RecipeArg, root: Path = RootOpt) -> None:
    """Gather every scored cell into grid.json, grid.csv and the heat map."""
    from factory.evaluate.grid import report as write_report

    typer.echo(f"grid report: wrote {write_report(_translate_recipe(recipe), root=root)}")


def run_grid(recipe: str = RecipeArg, root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Train every setting, score every cell and write the report (outside DVC)."""
    train(recipe, None, root, limit)
    score(recipe, None, None, root, limit)
    report(recipe, root)


GRID_COMMANDS = {"train": train, "score": score, "report": report, "all": run_grid}
"""Subcommands of `factory grid`."""
