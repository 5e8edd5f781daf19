"""Names and specs of the DVC stages that `factory pipeline` writes: `<verb>-<recipe>[-<setting>[-<lang>]]`.

DVC accepts letters, digits, `-` and `_` in a stage name (`@` addresses `foreach` members,
and other punctuation is refused by `dvc stage add`), so any other character of a recipe
name or grid setting (`.`, `+`) becomes `_`: `train-toxify`, `grid-score-translate-en_de-es`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


def stage_name(verb: str, *parts: str) -> str:
    """The DVC stage of `verb` for a recipe (and grid setting and language): `generate-toxify`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "-".join((verb, *parts)))


@dataclass(frozen=True)
class StageSpec:
    """One verb of the pipeline: its command, CLI entry, data deps and outputs.

    Strings are templates: {recipe} (name), {file} (recipe file), {setting}, {lang}.
    """

    args: str
    entries: tuple[str, ...]
    deps: tuple[str, ...] = ()
    outs: tuple[Any, ...] = ()
    metrics: tuple[str, ...] = ()
    plots: tuple[Any, ...] = ()
    params: tuple[str, ...] = ()
    comment: str = ""
    recipe_params: bool = True
    section: str = ""
    """When set, only recipes that have this section (`abliterate`) get the stage."""
    narrow: tuple[str, ...] = ()
    """Dotted keys (`crosslingual.sft`) that stand in for their section in the stage's recipe params: DVC then
    tracks only these parts of it (those the recipe file spells out), not the whole section."""


def stage_entries(module: str) -> tuple[str, ...]:
    """The CLI entries of a stage command that runs `module`'s `run` (the import closure starts there)."""
    return ("factory.cli:_run_stage", module)
