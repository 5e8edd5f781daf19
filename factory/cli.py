"""The `factory` command: one subcommand per stage, plus `check`, `schema`, `zoo`, `status` and `clean`.

Each stage subcommand loads the recipe and calls the stage's `run(recipe, root=, limit=)`.
Input problems (`FactoryError`) are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from factory import progress, zoo_place
from factory.cli_options import (LimitOpt, OverwriteOpt, RecipeArg, RootOpt,
                                 global_options, reports_errors)
from factory.core.errors import FactoryError
from factory.core import limits
from factory.kinds import all_kinds, kind_of
from factory.recipe import load_recipe, recipe_json_schema

for _name, _value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                      ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Detox Factory: recipes in, certified detoxification corpora out.")

STAGES = {
    "ingest": ("factory.stages.ingest", "Read the human data and split it into train/test."),
    "generate": ("factory.stages.generate", "Generate synthetic rows with the recipe's backend."),
    "filter": ("factory.stages.filter", "Dedupe, decontaminate and diversity-filter generated rows."),
    "mix": ("factory.stages.mix", "Mix synthetic and human rows at every ratio."),
    "train": ("factory.stages.train", "Train the reference model on every mix."),
    "evaluate": ("factory.stages.evaluate", "Evaluate the trained models on the human test split."),
    "certify": ("factory.stages.certify", "Check the gates and write certificate.json."),
}
PIPELINE = (*STAGES, "publish")

app.callback()(global_options)


def _recipe_file(recipe: str) -> Path:
    from factory.recipe import recipe_path

    return recipe_path(recipe)


def _run_stage(stage: str, recipe: str, root: Path, limit: Optional[int], echo: bool = True) -> Path:
    module = importlib.import_module(STAGES[stage][0])
    loaded = load_recipe(_recipe_file(recipe))
    with progress.stage_log(root, stage, loaded.name):
        out = module.run(loaded, root=root, limit=limit)
        limits.record(stage, loaded.name, root, limit)
        progress.log.debug("%s: wrote %s", stage, out)
    if echo:
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
    repo_id: Optional[str] = typer.Option(None, "--repo-id",
                                          help="Hub dataset repo ORG/NAME (default: publish.repo_id)."),
    dry_run: Optional[Path] = typer.Option(None, "--dry-run", help="Only build the release folder here."),
    public: bool = typer.Option(False, "--public", help="Create the repo public (default: private)."),
    force: bool = typer.Option(False, "--force", help="Publish even if the release is not certified or comes from a "
                                                      "--limit run (the card says so)."),
    root: Path = RootOpt,
    overwrite: bool = OverwriteOpt,
) -> None:
    """Build the release folder and push it to the Hub (private by default)."""
    from factory.stages import publish as stage
    from factory.recipe.release import repo_id_problem

    problem = repo_id_problem(repo_id) if repo_id is not None else None
    if problem:
        raise FactoryError(f"publish --repo-id: {problem}")
    loaded = load_recipe(_recipe_file(recipe))
    target = None if dry_run else (repo_id or loaded.publish.repo_id)
    if dry_run is None and target is None:
        raise FactoryError("publish: no repo id: pass --repo-id ORG/NAME, set publish.repo_id, or use --dry-run DIR")
    folder = stage.run(loaded, root=root, repo_id=target, dry_run=dry_run, public=public, force=force,
                       overwrite=overwrite)
    typer.echo(f"publish: {'built' if dry_run else 'pushed'} {folder}" + (f" to {target}" if target else ""))


@app.command()
@reports_errors
def run(recipe: str = RecipeArg, root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Run every stage of one recipe in order (outside DVC), then its report page, ending with a dry-run release.

    Like the DVC pipeline, the dry run is built even when certification failed; its card
    then says NOT CERTIFIED, and the verdict is printed last.
    """
    if kind_of(load_recipe(_recipe_file(recipe))).OWN_PIPELINE:  # no corpus to filter, mix or publish
        for stage in kind_of(load_recipe(_recipe_file(recipe))).RUN_STAGES:
            _run_stage(stage, recipe, root, limit)
        kind_of(load_recipe(_recipe_file(recipe))).extra_run(recipe, root, limit)
        from factory.stages.report import run as write_report

        typer.echo(f"report: wrote {write_report(load_recipe(_recipe_file(recipe)), root=root)}")
        certificate = json.loads((root / "certify" / load_recipe(_recipe_file(recipe)).name /
                                  "certificate.json").read_text())
        typer.echo(f"certificate: {certificate['verdict'].upper().replace('_', ' ')} ({certificate['reason']})")
        return
    for stage in STAGES:
        _run_stage(stage, recipe, root, limit, echo=progress.console_level() != "quiet")
        if stage == "ingest" and load_recipe(_recipe_file(recipe)).abliterate is not None:
            abliterate(recipe, out=None, layer=None, root=root)
    kind = kind_of(load_recipe(_recipe_file(recipe)))
    kind.extra_run(recipe, root, limit)
    if kind.GRID:  # as the pipeline: the recipes with the grid stages are exported
        export(recipe, root, limit)
    from factory.stages import publish as stage
    from factory.core.reports import Certificate
    from factory.stages.report import run as write_report
    from factory.core.gates import names_with

    say = typer.echo if progress.console_level() != "quiet" else progress.log.debug
    say(f"report: wrote {write_report(load_recipe(_recipe_file(recipe)), root=root)}")
    folder = stage.run(load_recipe(_recipe_file(recipe)), root=root, force=True)
    say(f"publish: built {folder} (dry run)")
    certificate = Certificate.read(folder / "certificate.json").raw
    failed = names_with(certificate, "fail")
    if certificate.get("verdict") == "inconclusive":
        typer.echo(f"certificate: INCONCLUSIVE ({certificate.get('reason')})")
        return
    typer.echo("certificate: CERTIFIED" if not failed else f"certificate: NOT CERTIFIED (failed: {', '.join(failed)})")


def _sends(path: Path) -> str:
    """` (sends $VAR to URL)` for a valid recipe that generates through an OpenAI-compatible server, else ""
    (also for params.yaml, which `check` lists beside the recipes)."""
    try:
        recipe = load_recipe(path)
    except FactoryError:
        return ""
    if (recipe.generate is None or recipe.generate.backend != "openai"
            or not kind_of(recipe).uses_generate_backend(recipe)):
        return ""
    return f" ({recipe.generate.server.key_destination()})"


@app.command()
def check(recipes: list[str] = typer.Argument(
        None, help="Recipe files or names (default: params.yaml and every recipe it lists).")) -> None:
    """Validate recipes without running anything; print every problem (exit 2 if any).

    A valid recipe that generates through a server also shows which environment variable
    is sent, as the API key, to which URL.
    """
    from factory.recipe.check import check_recipes

    bad = 0
    for label, problems in check_recipes(recipes or []):
        for problem in problems:
            typer.echo(f"{label}: {problem}", err=True)
        bad += bool(problems)
        if not problems:
            typer.echo(f"{label}: ok{_sends(Path(label))}")
    raise typer.Exit(code=2 if bad else 0)


@app.command()
@reports_errors
def pipeline(
    out: Path = typer.Option(Path("dvc.yaml"), "--out", help="Pipeline file to write."),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="Run-wide knobs: profile, recipes, grid."),
    check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 2 if OUT is not current."),
) -> None:
    """Write dvc.yaml from params.yaml, its recipes and each stage's imports (run from the project root)."""
    from factory.pipeline import write_pipeline

    typer.echo(write_pipeline(out, params, check=check_only))


@app.command()
@reports_errors
def schema(out: Optional[Path] = typer.Option(None, "--out", help="Write here instead of stdout.")) -> None:
    """Print (or write) the JSON schema of recipes, for editors."""
    text = json.dumps(recipe_json_schema(), indent=2) + "\n"
    if out and not out.parent.is_dir():
        raise FactoryError(f"{out}: no folder {out.parent}")
    if out:
        out.write_text(text)
    else:
        sys.stdout.write(text)


@app.command()
@reports_errors
@progress.logs_to_file("abliterate")
def abliterate(
    model: str = typer.Argument(..., metavar="RECIPE|MODEL", help="A recipe with an `abliterate` section (file or "
                                "name), or the Hub id or local folder of a causal LM (then --out is required)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the patched model (recipe default: "
                                       "ROOT/models/abliterated/<recipe>)."),
    layer: Optional[int] = typer.Option(None, "--layer",
                                        help="Layer whose refusal direction is removed (default: middle)."),
    overwrite: bool = OverwriteOpt,
    root: Path = RootOpt,
) -> None:
    """Remove refusal directions from a model's weights (activation patching), as a recipe says or generically."""
    from factory.models.abliterate_recipe import abliterate_target

    typer.echo(f"abliterate: wrote {abliterate_target(model, out, layer=layer, root=root, overwrite=overwrite)}")


@app.command()
@reports_errors
def docs(
    readme: Path = typer.Option(Path("README.md"), "--readme", help="README whose recipe reference to rewrite."),
) -> None:
    """Regenerate the recipe reference section of the README from the schema, and its fidelity table
    (factory/data/fidelity.yaml against recipes/full)."""
    from factory.recipe.reference import END, START, recipe_reference

    text = readme.read_text() if readme.is_file() else ""
    if START not in text or END not in text.split(START, 1)[-1]:
        raise FactoryError(f"{readme}: no recipe reference section (a line {START}, later a line {END})")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    from factory.fidelity import rewrite_readme

    readme.write_text(rewrite_readme(f"{head}{START}\n{recipe_reference()}{END}{tail}"))
    typer.echo(f"docs: rewrote the recipe reference and the fidelity table in {readme}")


@app.command()
@reports_errors
def zoo(
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the tiny zoo (default: the --zoo folder)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="Seed of every zoo model."),
    scale: float = typer.Option(1.0, "--scale", help="Multiplier of training steps (tests use 0.02)."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Build the tiny models of the `tiny` profile, offline and deterministically."""
    from factory.models.zoo import build

    typer.echo(f"zoo: wrote {build(out or zoo_place.zoo_folder(), seed=seed, scale=scale, overwrite=overwrite)}")


@app.command()
@reports_errors
def plots(
    recipes: list[str] = typer.Argument(None, help="Recipe names or files (default: every recipe in params.yaml)."),
    root: Path = RootOpt,
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the PNG plots (default: ROOT/plots)."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Render the metric plots of the listed recipes to PNG, offline."""
    from factory.plots import render_all
    from factory.recipe import load_params
    from factory.status import recipe_name, without_results

    names = [recipe_name(r) for r in recipes] if recipes else [
        name for name in load_params().recipes if not kind_of(load_recipe(_recipe_file(name))).OWN_PIPELINE]
    missing = without_results(names, root)
    if missing and (recipes or missing == names):
        raise FactoryError(f"plots: nothing to plot for {', '.join(map(repr, missing))}: no {root}/eval/{missing[0]}/"
                           f"metrics.json, no {root}/filtered/{missing[0]}/report.json (run the pipeline, or check "
                           "the name)")
    typer.echo(f"plots: wrote {render_all(names, root=root, out=out or root / 'plots', overwrite=overwrite)}")


@app.command()
@reports_errors
def report(
    recipes: list[str] = typer.Argument(None, help="Recipe names or files (default: every recipe in params.yaml, "
                                                   "then the index)."),
    index: bool = typer.Option(False, "--index", help="Write data/report/index.html over every recipe in "
                                                      "params.yaml."),
    root: Path = RootOpt,
) -> None:
    """Write each recipe's release report page (data/report/<recipe>.html) and DVC metrics summary."""
    from factory.recipe import load_params
    from factory.stages.report import run as write_page
    from factory.stages.report import write_index

    listed = [load_recipe(_recipe_file(name)) for name in load_params().recipes] if index or not recipes else []
    if recipes:
        pages = [load_recipe(_recipe_file(name)) for name in recipes]
    else:
        pages = [] if index else listed
    for loaded in pages:
        typer.echo(f"report: wrote {write_page(loaded, root=root)}")
    if listed:
        typer.echo(f"report: wrote {write_index(listed, root=root)}")


@app.command()
@reports_errors
def status(
    recipes: list[str] = typer.Argument(None, help="Recipe names or files (default: every recipe in params.yaml)."),
    root: Path = RootOpt,
    cache: bool = typer.Option(False, "--cache", help="List the cache folders (sizes; current or stale) instead."),
) -> None:
    """Print, per recipe, whether its release is certified and which gates failed."""
    from factory.clean import current_recipes
    from factory.recipe import load_params
    from factory.status import cache_lines, recipe_name, status_lines

    lines = cache_lines(root, current_recipes()) if cache else status_lines(
        [recipe_name(r) for r in recipes] if recipes else load_params().recipes, root)
    for line in lines:
        typer.echo(line)


@app.command()
@reports_errors
def clean(
    root: Path = RootOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
    requests: bool = typer.Option(False, "--requests", help="Also remove the request caches (requests.sqlite)."),
) -> None:
    """Remove cache folders the recipes in params.yaml no longer use (stale checkpoints, old recipes)."""
    from factory.clean import clean as clean_cache
    from factory.clean import current_recipes

    for line in clean_cache(root, current_recipes(), requests=requests, dry_run=dry_run):
        typer.echo(line)


@app.command()
@reports_errors
@progress.logs_to_file("export")
def export(recipe: str = RecipeArg, root: Path = RootOpt, limit: Optional[int] = LimitOpt) -> None:
    """Write the SFT, DPO and seq2seq exports of a pair recipe's corpus (JSON Lines and Parquet)."""
    from factory.stages import export as stage

    typer.echo(f"export: wrote {stage.run(load_recipe(_recipe_file(recipe)), root=root, limit=limit)}")


def _register_kind_commands() -> None:
    """Each kind's extra command groups (`factory grid ...` of translate), wrapped so input problems exit 2."""
    for kind in all_kinds():
        for group, (sub_app, commands) in kind.commands().items():
            for name, command in commands.items():
                sub_app.command(name=name)(reports_errors(progress.logs_to_file(f"{group}-{name}")(command)))
            app.add_typer(sub_app, name=group)


_register_kind_commands()


def main() -> None:
    """Entry point for `python -m factory`."""
    app()
