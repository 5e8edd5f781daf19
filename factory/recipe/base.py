"""Shared building blocks of the recipe schema: strict sections, seeds, dtypes and model references."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler,
                      PrivateAttr, model_validator)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_PATH_SUFFIXES = (".tsv", ".csv", ".parquet", ".jsonl", ".json", ".txt", ".yaml", ".yml")


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are validated strictly.

    Strict: an integer field takes only an integer (not `true`, `3.0` or `"3"`), a float
    field a number (not `true` or `"0.5"`), a flag only `true`/`false`; and no float may be
    `.inf` or `.nan` (YAML has real numbers, and a gate or setting of infinity is a typo).
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True, allow_inf_nan=False)


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

Seed = Annotated[int, Field(ge=0, lt=2**63)]
"""A random seed: an integer in [0, 2**63), what torch, numpy and vLLM all accept."""

DTYPES = ("auto", "float32", "float16", "bfloat16")
DTYPE_ALIASES = {"float": "float32", "fp32": "float32", "half": "float16", "fp16": "float16", "bf16": "bfloat16"}


def _canonical_dtype(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    if name in DTYPES or name in DTYPE_ALIASES:
        return DTYPE_ALIASES.get(name, name)
    aliases = ", ".join(f"{a}={c}" for a, c in DTYPE_ALIASES.items())
    raise ValueError(f"unknown dtype (use {', '.join(DTYPES)}; aliases: {aliases})")


Dtype = Annotated[Literal["auto", "float32", "float16", "bfloat16"], BeforeValidator(_canonical_dtype)]
"""Weights dtype: auto, float32, float16 or bfloat16 (aliases float, fp32, half, fp16, bf16 are normalised)."""


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
    dtype: Dtype = Field("auto", description="Weights dtype: auto, float32, bfloat16 or float16.")

    _role: str = PrivateAttr("")

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

    @property
    def role(self) -> str:
        """The recipe field this model fills (`models.toxicity`), for messages; `model` when built in code."""
        return self._role or "model"


def name_model_roles(section: BaseModel, prefix: str = "") -> None:
    """Record in every `ModelSpec` under `section` its field path (`lm_train.targets[0]`) as its role."""
    for name, value in section:
        path = f"{prefix}{name}"
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            where = path if index is None else f"{path}[{index}]"
            if isinstance(item, ModelSpec):
                item._role = where
            elif isinstance(item, BaseModel):
                name_model_roles(item, f"{where}.")
