"""The recipe fields each DVC stage reads, as that stage's `params:` in dvc.yaml.

One table (`STAGE_READS`) says, per stage verb, which top-level recipe sections its code
reads (taken from the stages' code, `recipe.<section>`; tests/test_pipeline_params.py checks
the table against the code each stage imports). A section a recipe's kind does not have is
refused by the recipe schema, so one table serves every kind. Conservative by design: a
section a stage might read is listed (an extra re-run costs minutes, a missed one a stale
certificate); `WHOLE` stages (certify hashes the whole recipe into the certificate, publish
copies the file) track every field.

DVC refuses a listed param that the file does not have (MissingParamsError), so a stage lists
the sections its recipe file spells out; a section left at its defaults has no value to track
until it is written, and writing it changes what `factory pipeline` generates (the stale-pipeline
check fails, scripts/repro.sh regenerates dvc.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.recipe.loader import read_recipe_yaml

WHOLE = ("*",)
"""The stage reads the whole recipe: DVC tracks every field of the file."""

IDENTITY = ("name", "kind", "profile", "seed")
"""Read by every stage: names of folders, the kind's code, the profile, the seed of every random choice."""

MODELS = ("models", "engine")
"""Model refs and where the heavy work runs."""

STAGE_READS: dict[str, tuple[str, ...]] = {
    "ingest": (*IDENTITY, "human"),
    "abliterate": (*IDENTITY, "human", *MODELS, "generate", "abliterate"),
    "generate": (*IDENTITY, "human", *MODELS, "generate", "abliterate", "distill", "selfgen", "translate", "lm_train",
                 "crosslingual"),
    "filter": (*IDENTITY, "human", "filter", "engine"),
    "mix": (*IDENTITY, "human", "mix"),
    "train": (*IDENTITY, "human", *MODELS, "mix", "train", "lm_train", "crosslingual"),
    "evaluate": (*IDENTITY, "human", *MODELS, "mix", "train", "evaluate", "lm_train", "lm_evaluate", "crosslingual"),
    "certify": WHOLE,
    "publish": WHOLE,
    "report": (*IDENTITY, "description", "mix", "crosslingual"),
    "grid-train": (*IDENTITY, "human", *MODELS, "train", "translate", "grid"),
    "grid-score": (*IDENTITY, "human", *MODELS, "train", "evaluate", "translate", "grid"),
    "grid-report": (*IDENTITY, "human", *MODELS, "train", "evaluate", "translate", "grid"),
    "export": (*IDENTITY, "human", "translate"),
    "embed": (*IDENTITY, "human", *MODELS, "crosslingual"),
}
"""Stage verb -> the top-level recipe sections its command reads (or `WHOLE`)."""


def recipe_params(verb: str, recipe_file: str, narrow: tuple[str, ...] = ()) -> list[dict[str, list[str] | None]]:
    """The dvc.yaml `params:` entry of stage `verb` for the recipe at `recipe_file`: the sections it reads that
    the file spells out (`{file: [generate, models, seed]}`), or `{file: None}` (every field). `narrow`: dotted
    keys standing in for their section (`crosslingual.sft` for `crosslingual`), listed where the file has them."""
    reads = STAGE_READS.get(verb, WHOLE)  # a verb missing from the table tracks everything
    if reads == WHOLE:
        return [{recipe_file: None}]
    raw = read_recipe_yaml(Path(recipe_file))
    present = set(raw) if isinstance(raw, dict) else set()
    narrowed = {key.split(".", 1)[0] for key in narrow}
    listed = [section for section in reads if section in present and section not in narrowed]
    listed += [key for key in narrow if key.split(".", 1)[0] in reads and _has(raw, key)]
    return [{recipe_file: listed}] if listed else []


def _has(raw: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return False
        raw = raw[part]
    return True
