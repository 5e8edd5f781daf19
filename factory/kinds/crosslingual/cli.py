"""Commands of the `crosslingual` kind: `factory crosslingual train|evaluate|matrices|embed`.

What the DVC stages call, one piece at a time: `train --setting sft-de-100` trains one model,
`evaluate --setting sft-de-100 --lang es` scores one (setting, eval language) cell, `matrices`
gathers every cell into the matrices and heat maps, `embed` runs the embedding analysis. Without
`--setting` / `--lang` they cover every setting / language. `factory.cli` registers them through
`factory.kinds.crosslingual.commands`, wrapped so that input problems exit with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from factory.core.errors import FactoryError
from factory.kinds.command_options import LimitOpt, RootOpt, kind_recipe, recipe_arg
from factory.recipe import Recipe

cross_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="Breaking mBad protocol of a crosslingual recipe, one DVC stage's piece at a time.")

RecipeArg = recipe_arg("crosslingual")
SettingOpt = typer.Option(None, "--setting", help="One setting (sft-de-100, zero-shot; default: every one).")
LangOpt = typer.Option(None, "--lang", help="One eval language of crosslingual.data.languages (default: every one).")


def _recipe(recipe: str) -> Recipe:
    return kind_recipe(recipe, "crosslingual", "these commands")


def train(recipe: str = RecipeArg, setting: Optional[str] = SettingOpt, root: Path = RootOpt,
          limit: Optional[int] = LimitOpt) -> None:
    """Train the model of one setting (or of every setting), resuming from its checkpoints."""
    from factory.kinds.crosslingual.train_step import planned_labels, train_setting

    loaded = _recipe(recipe)
    for label in [setting] if setting else planned_labels(loaded):
        typer.echo(f"crosslingual train: wrote {train_setting(loaded, root, label, limit)}")


def evaluate(recipe: str = RecipeArg, setting: Optional[str] = SettingOpt, lang: Optional[str] = LangOpt,
             root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Continue and score the prompts of one cell, a row or column, or every cell."""
    from factory.kinds.crosslingual.cells import CellModels, eval_settings, evaluate_cell

    loaded = _recipe(recipe)
    models = CellModels(loaded, root)
    for name in [setting] if setting else list(eval_settings(loaded)):
        for language in [lang] if lang else loaded.crosslingual.data.languages:
            out = evaluate_cell(loaded, root, name, language, limit, models)
            typer.echo(f"crosslingual evaluate: wrote {out}")


def matrices(recipe: str = RecipeArg, root: Path = RootOpt) -> None:
    """Gather every cell into rows.parquet, matrices.json and the heat maps."""
    from factory.kinds.crosslingual.evaluation import assemble

    typer.echo(f"crosslingual matrices: wrote {assemble(_recipe(recipe), root)}")


def embed(recipe: str = RecipeArg, root: Path = RootOpt) -> None:
    """The embedding analysis (silhouette by language, language confusion, projection) of the chosen models."""
    from factory.kinds.crosslingual.embedding_step import embed_if_enabled

    loaded = _recipe(recipe)
    out = embed_if_enabled(loaded, root)
    if out is None:
        raise FactoryError(f"{loaded.path}: the embedding analysis is off (embeddings.enabled: false); nothing to do")
    typer.echo(f"crosslingual embed: wrote {out}")


CROSS_COMMANDS = {"train": train, "evaluate": evaluate, "matrices": matrices, "embed": embed}
"""Subcommands of `factory crosslingual`."""
