"""The `factory` command's shared pieces: global options (`--version`, `--quiet`, `--verbose`, `--zoo`),
the arguments every stage command takes (recipe, `--root`, `--limit`, `--overwrite`) and the wrapper that
turns `FactoryError` into one `error:` line and exit code 2. The commands themselves are in `factory.cli`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import typer

from factory import progress, zoo_place
from factory.core.errors import FactoryError

RecipeArg = typer.Argument(..., help="Recipe file (recipes/tiny/toxify.yaml) or name (toxify).")
RootOpt = typer.Option(Path("data"), "--root", help="Data folder of the pipeline.")
LimitOpt = typer.Option(None, "--limit", min=1, help="Process at most this many rows, of each language (for quick "
                                               "trials; the card then says LIMITED RUN).")


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        from factory import __version__

        try:
            typer.echo(f"detox-factory {version('detox-factory')}")
        except PackageNotFoundError:  # run from a source tree that is not installed
            typer.echo(f"detox-factory {__version__}")
        raise typer.Exit()


def global_options(
    context: typer.Context,
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and the final one-line result."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print debug messages too (the log file under "
                                                                "ROOT/logs/ always has them)."),
    zoo: Path = typer.Option(Path("data/models/zoo"), "--zoo", envvar=zoo_place.ENV,
                             help="Folder of the tiny zoo (`zoo:NAME` models), whatever --root says."),
) -> None:
    """Detox Factory: recipes in, certified detoxification corpora out (the options before any command)."""
    if quiet and verbose:
        raise typer.BadParameter("pass at most one of --quiet and --verbose")
    progress.set_console("quiet" if quiet else "verbose" if verbose else "normal")
    zoo_place.use_for_this_run(zoo, context)
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace the folder even if the factory did not make it.")


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
