"""Shared building blocks of the recipe schema: strict sections and model references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_PATH_SUFFIXES = (".tsv", ".csv", ".parquet", ".jsonl", ".json", ".txt", ".yaml", ".yml")


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def looks_like_path(value: str) -> bool:
    """True when a string names a local file or folder rather than a Hub id or a keyword."""
    return (
        value.startswith(("/", "./", "../", "~"))
        or value.lower().endswith(_PATH_SUFFIXES)
        or value.count("/") > 1
    )


def _must_exist(value: str | None) -> str | None:
    if value is not None and looks_like_path(value) and not Path(value).expanduser().exists():
        raise ValueError(f"file or folder not found: {value} (relative paths are read from the project root)")
    return value


ExistingPathOrId = Annotated[str, AfterValidator(_must_exist)]
"""A Hub id, a keyword such as `seed` or `zoo:NAME`, or a local path that must exist."""

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
"""A number in [0, 1]."""


class ModelSpec(Section):
    """A model for one role: a Hub id, a local folder, `zoo:NAME` or `package:NAME`.

    A bare string in YAML is read as `ref`. `zoo:NAME` is a folder of the tiny zoo that
    `factory zoo` builds (data/models/zoo/NAME); `package:profanity-check` and
    `package:all-minilm-l6-v2` are models that installed Python packages ship.
    """

    ref: ExistingPathOrId = Field(description="Hub id, local folder, `zoo:NAME` or `package:NAME`.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) to pin; recorded in provenance.")
    label: str | int | None = Field(
        None,
        description="For classifiers: the label (name or index) whose probability is the score "
        "(toxicity: the toxic label; fluency: the acceptable label). Default: guessed from id2label.",
    )
    dtype: str = Field("auto", description="Weights dtype: auto, float32, bfloat16 or float16.")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"ref": value} if isinstance(value, str) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The JSON schema says what `_from_string` accepts: a bare string (the `ref`) or the full object."""
        full = handler.resolve_ref_schema(handler(core_schema))
        bare = {"type": "string", "description": "The `ref` alone: " + full["properties"]["ref"]["description"]}
        return {"title": full.get("title", cls.__name__), "description": full.get("description", ""),
                "anyOf": [bare, {key: value for key, value in full.items() if key not in ("title", "description")}]}
