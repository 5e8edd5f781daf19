"""Which stage writes which data folder, and the error for a stage input that is not there yet.

Every stage writes `<root>/<folder>/<recipe>/` (see README, "What happens: the stages").
A stage run before the stage it reads from gets one line naming the missing folder (or
file) and the command to run first, instead of a `FileNotFoundError` traceback.
"""

from __future__ import annotations

from pathlib import Path

from factory.core.errors import FactoryError

STAGE_OF_FOLDER = {
    "human": "ingest",
    "generated": "generate",
    "filtered": "filter",
    "mixed": "mix",
    "trained": "train",
    "eval": "evaluate",
    "certify": "certify",
    "release": "publish",
    "exports": "export",
}
"""Data folder -> the `factory` subcommand that writes it."""

GRID_COMMANDS = {"trained": "grid train", "cells": "grid score", "report": "grid report"}
"""Sub-folder of `<root>/grid/<recipe>/` -> the `factory` subcommand that writes it."""


def _producer(path: Path) -> tuple[Path, str, str] | None:
    """(stage folder `<root>/<folder>/<recipe>`, command, recipe) of a stage output path, or None."""
    parts = path.parts
    for i in range(len(parts) - 3, -1, -1):
        if parts[i] == "grid" and parts[i + 2] in GRID_COMMANDS:
            return Path(*parts[: i + 3]), GRID_COMMANDS[parts[i + 2]], parts[i + 1]
    for i in range(len(parts) - 3, -1, -1):
        if parts[i] in STAGE_OF_FOLDER:
            return Path(*parts[: i + 2]), STAGE_OF_FOLDER[parts[i]], parts[i + 1]
    return None


def missing_input(path: Path | str) -> FactoryError:
    """The error for an input file that does not exist, naming the stage to run first when it is a stage output.

    `data/generated/toxify/rows.parquet` ->
    `data/generated/toxify: missing; run \\`factory generate toxify\\` first`.
    """
    path = Path(path)
    found = _producer(path)
    if found is None:
        return FactoryError(f"{path}: file not found")
    folder, command, recipe = found
    root = folder.parent.parent if not command.startswith("grid") else folder.parent.parent.parent
    where = "" if root == Path("data") else f" --root {root}"
    missing = folder if not folder.exists() else path
    return FactoryError(f"{missing}: missing; run `factory {command} {recipe}{where}` first")


def require_file(path: Path | str) -> Path:
    """Return `path` if it is a file; else raise `missing_input(path)`."""
    path = Path(path)
    if not path.is_file():
        raise missing_input(path)
    return path
