"""The local files and folders a recipe names, as DVC dependencies of the stages that read them.

`recipe_inputs` walks a validated recipe (defaults included) for the fields that may name a local
path (`ExistingPathOrId` in the schema). A value is a dependency when it is a keyword with
package data (`human.source: seed` is factory/data/seed/pairs.tsv), a zoo model (`zoo:NAME`
is data/models/zoo, the output of the `zoo` stage), an abliterated model (`abliterated:NAME` is
data/models/abliterated/NAME, the output of `abliterate-NAME`), or a path that exists (what the readers
open before trying the Hub). Hub ids and `package:NAME` models are not files of the project.

Each field has the module that reads it (`PATH_READERS`): a stage depends on the field's file
only when that module is part of the stage's code. The recipe's human TSV is a dependency of
`ingest` (the stages after it depend on its output), the zoo one of the stages that load models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import BaseModel

from factory.recipe.base import looks_like_path

PATH_READERS: dict[tuple[str, str], str] = {
    ("HumanData", "source"): "factory/stages/ingest.py",
    ("ModelSpec", "ref"): "factory/models/loading.py",
    ("Distill", "toxic_corpus"): "factory/generate/distill.py",
    ("LMEvaluate", "prompts"): "factory/evaluate/lm_prompts.py",
    ("Translate", "corpus"): "factory/generate/translate_sources.py",
    ("Translate", "parallel"): "factory/generate/translate_sources.py",
    ("Diversity", "lexicon"): "factory/stages/filter.py",
    ("TextSource", "source"): "factory/text_sources.py",
    ("PairSource", "source"): "factory/text_sources.py",
    ("CrossData", "source"): "factory/kinds/crosslingual/steps.py",
    ("CrossData", "language_sources"): "factory/kinds/crosslingual/steps.py",
}
"""(recipe section class, field) of every field that may name a local path -> the module that opens it."""

KEYWORD_DATA: dict[tuple[str, str, str], str] = {
    ("HumanData", "source", "seed"): "factory/data/seed/pairs.tsv",
    ("Distill", "toxic_corpus", "seed"): "factory/data/seed/toxic.txt",
    ("LMEvaluate", "prompts", "seed"): "factory/data/seed/prompts.jsonl",
    ("Translate", "parallel", "fixture"): "factory/data/multilingual",
    ("CrossData", "source", "fixture"): "factory/data/multilingual",
    ("CrossData", "language_sources", "seed"): "factory/data/seed/pairs.tsv",
    ("CrossData", "language_sources", "fixture"): "factory/data/multilingual",
}
"""(section, field, keyword) -> the package data the keyword stands for."""

ZOO = "data/models/zoo"
"""`zoo:NAME` models live here (the `zoo` stage's output)."""
ABLITERATED = "data/models/abliterated"
"""`abliterated:NAME` models live here, one folder per recipe (the `abliterate-NAME` stage's output)."""


def keyword_paths() -> list[str]:
    """Package data that only recipes naming its keyword depend on."""
    return sorted(set(KEYWORD_DATA.values()))


def local_path(value: str) -> Optional[str]:
    """The project-relative (or absolute, outside the project) path a field value names, None for a Hub id."""
    if not (looks_like_path(value) or Path(value).expanduser().exists()):
        return None
    path = Path(value).expanduser()
    if path.is_absolute() and path.resolve().is_relative_to(Path.cwd().resolve()):
        path = path.resolve().relative_to(Path.cwd().resolve())
    return path.as_posix()


def input_path(section: str, field: str, value: str) -> Optional[str]:
    """The dependency one recipe value stands for (None: nothing local)."""
    if (section, field, value) in KEYWORD_DATA:
        return KEYWORD_DATA[(section, field, value)]
    if value.startswith("zoo:"):
        return ZOO
    if value.startswith("abliterated:"):
        return f"{ABLITERATED}/{value.removeprefix('abliterated:')}"
    if value.startswith("package:"):
        return None
    return local_path(value)


def _walk(section: BaseModel) -> Iterator[tuple[str, str, Any]]:
    for name in type(section).model_fields:
        value = getattr(section, name)
        value = list(value.values()) if isinstance(value, dict) else value
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, BaseModel):
                yield from _walk(item)
            else:
                yield type(section).__name__, name, item


def recipe_inputs(recipe: BaseModel) -> list[tuple[str, str]]:
    """(reading module, path) of every local file or folder the recipe names, sorted."""
    found = set()
    for section, name, value in _walk(recipe):
        reader = PATH_READERS.get((section, name))
        if reader is not None and isinstance(value, str) and (path := input_path(section, name, value)):
            found.add((reader, path))
    return sorted(found)
