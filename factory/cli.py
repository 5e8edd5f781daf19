"""The `factory` command: one subcommand per stage, plus `check`, `schema`, `zoo` and `status`.

Each stage subcommand loads the recipe and calls the stage's `run(recipe, root=, limit=)`.
Input problems (`FactoryError`) are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional

import typer

from factory.errors import FactoryError
from factory.recipe import load_recipe, recipe_json_schema, recipe_problems

for _name, _value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                      ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Detox Factory: recipes in, certified detoxification corpora out.")

STAGES = {
    "ingest": ("factory.ingest", "Read the human data and split it into train/test."),
    "generate": ("factory.generate", "Generate synthetic rows with the recipe's backend."),
    "filter": ("factory.filter.stage", "Dedupe, decontaminate and diversity-filter generated rows."),
    "mix": ("factory.mix", "Mix synthetic and human rows at every ratio."),
    "train": ("factory.train", "Train the reference model on every mix."),
    "evaluate": ("factory.evaluate", "Evaluate the trained models on the human test split."),
    "certify": ("factory.certify", "Check the gates and write certificate.json."),
}
PIPELINE = (*STAGES, "publish")

RecipeArg = typer.Argument(..., help="Recipe file (recipes/tiny/toxify.yaml) or name (toxify).")
RootOpt = typer.Option(Path("data"), "--root", help="Data folder of the pipeline.")
LimitOpt = typer.Option(None, "--limit", help="Process at most this many rows (for quick trials).")


def reports_errors(func: Callable) -> Callable:
    """Turn `FactoryError` into a message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except FactoryError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


def _recipe_file(recipe: str) -> Path:
    from factory.recipe import recipe_path

    return recipe_path(recipe)


def _run_stage(stage: str, recipe: str, root: Path, limit: Optional[int]) -> Path:
    module = importlib.import_module(STAGES[stage][0])
    out = module.run(load_recipe(_recipe_file(recipe)), root=root, limit=limit)
    typer.echo(f"{stage}: wrote {out}")
    return out


def _make_stage_command(stage: str) -> None:
    @reports_errors
    def command(recipe: str = RecipeArg, root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
        _run_stage(stage, recipe, root, limit)

    command.__doc__ = STAGES[stage][1]
    app.command(name=stage)(command)


for _stage in STAGES:
    _make_stage_command(_stage)


@app.command()
@reports_errors
def publish(
    recipe: str = RecipeArg,
    repo_id: Optional[str] = typer.Option(None, "--repo-id", help="Hub dataset repo ORG/NAME (default: publish.repo_id)."),
    dry_run: Optional[Path] = typer.Option(None, "--dry-run", help="Only build the release folder here."),
    public: bool = typer.Option(False, "--public", help="Create the repo public (default: private)."),
    force: bool = typer.Option(False, "--force", help="Publish even if the release is not certified (the card says so)."),
    root: Path = RootOpt,
) -> None:
    """Build the release folder and push it to the Hub (private by default)."""
    from factory import publish as stage

    loaded = load_recipe(_recipe_file(recipe))
    target = None if dry_run else (repo_id or loaded.publish.repo_id)
    if dry_run is None and target is None:
        raise FactoryError("publish: no repo id: pass --repo-id ORG/NAME, set publish.repo_id, or use --dry-run DIR")
    folder = stage.run(loaded, root=root, repo_id=target, dry_run=dry_run, public=public, force=force)
    typer.echo(f"publish: {'built' if dry_run else 'pushed'} {folder}" + (f" to {target}" if target else ""))


@app.command()
@reports_errors
def run(recipe: str = RecipeArg, root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Run every stage of one recipe in order (outside DVC), ending with a dry-run release.

    Like the DVC pipeline, the dry run is built even when certification failed; its card
    then says NOT CERTIFIED, and the verdict is printed last.
    """
    for stage in STAGES:
        _run_stage(stage, recipe, root, limit)
    if load_recipe(_recipe_file(recipe)).kind == "translate":
        cli_translate.run_grid(recipe, root, limit)
        cli_translate.export(recipe, root, limit)
    from factory import publish as stage
    from factory.gates import names_with

    folder = stage.run(load_recipe(_recipe_file(recipe)), root=root, force=True)
    typer.echo(f"publish: built {folder} (dry run)")
    certificate = json.loads((folder / "certificate.json").read_text())
    failed = names_with(certificate, "fail")
    if certificate.get("verdict") == "inconclusive":
        typer.echo(f"certificate: INCONCLUSIVE ({certificate.get('reason')})")
        return
    typer.echo("certificate: CERTIFIED" if not failed else f"certificate: NOT CERTIFIED (failed: {', '.join(failed)})")


@app.command()
def check(recipes: list[Path] = typer.Argument(..., help="Recipe files to validate.")) -> None:
    """Validate recipes without running anything; print every problem (exit 2 if any)."""
    bad = 0
    for path in recipes:
        try:
            problems = recipe_problems(path)
        except FactoryError as exc:
            problems = [str(exc)]
        for problem in problems:
            typer.echo(f"{path}: {problem}", err=True)
        bad += bool(problems)
        if not problems:
            typer.echo(f"{path}: ok")
    raise typer.Exit(code=2 if bad else 0)


@app.command()
def schema(out: Optional[Path] = typer.Option(None, "--out", help="Write here instead of stdout.")) -> None:
    """Print (or write) the JSON schema of recipes, for editors."""
    text = json.dumps(recipe_json_schema(), indent=2) + "\n"
    if out:
        out.write_text(text)
    else:
        sys.stdout.write(text)


@app.command()
@reports_errors
def abliterate(
    model: str = typer.Argument(..., help="Hub id or local folder of a causal LM."),
    out: Path = typer.Option(..., "--out", help="Folder for the patched model."),
    layer: Optional[int] = typer.Option(None, "--layer", help="Layer whose refusal direction is removed (default: middle)."),
) -> None:
    """Remove the refusal direction from a model's weights (activation patching)."""
    from factory.models.abliterate import abliterate_folder

    typer.echo(f"abliterate: wrote {abliterate_folder(model, out, layer=layer)}")


@app.command()
def docs(readme: Path = typer.Option(Path("README.md"), "--readme", help="README whose recipe reference to rewrite.")) -> None:
    """Regenerate the recipe reference section of the README from the schema."""
    from factory.recipe.reference import END, START, recipe_reference

    text = readme.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{START}\n{recipe_reference()}{END}{tail}")
    typer.echo(f"docs: rewrote the recipe reference in {readme}")


@app.command()
@reports_errors
def zoo(
    out: Path = typer.Option(Path("data/models/zoo"), "--out", help="Folder of the tiny zoo."),
    seed: int = typer.Option(0, "--seed", help="Seed of every zoo model."),
    scale: float = typer.Option(1.0, "--scale", help="Multiplier of training steps (tests use 0.02)."),
) -> None:
    """Build the tiny models of the `tiny` profile, offline and deterministically."""
    from factory.models.zoo import build

    typer.echo(f"zoo: wrote {build(out, seed=seed, scale=scale)}")


@app.command()
@reports_errors
def plots(
    recipes: list[str] = typer.Argument(None, help="Recipe names (default: every recipe in params.yaml)."),
    root: Path = RootOpt,
    out: Path = typer.Option(Path("data/plots"), "--out", help="Folder of the PNG plots."),
) -> None:
    """Render the metric plots of the listed recipes to PNG, offline."""
    from factory.plots import render_all
    from factory.recipe import load_params

    names = recipes or load_params().recipes
    typer.echo(f"plots: wrote {render_all(names, root=root, out=out)}")


@app.command()
@reports_errors
def status(
    recipes: list[str] = typer.Argument(None, help="Recipe names (default: every recipe in params.yaml)."),
    root: Path = RootOpt,
) -> None:
    """Print, per recipe, whether its release is certified and which gates failed."""
    from factory.recipe import load_params
    from factory.status import status_lines

    for line in status_lines(recipes or load_params().recipes, root):
        typer.echo(line)


from factory import cli_translate  # noqa: E402  (its commands are registered here, wrapped)

for _name, _command in cli_translate.GRID_COMMANDS.items():
    cli_translate.grid_app.command(name=_name)(reports_errors(_command))
app.add_typer(cli_translate.grid_app, name="grid")
app.command(name="export")(reports_errors(cli_translate.export))


def main() -> None:
    """Entry point for `python -m factory`."""
    app()
