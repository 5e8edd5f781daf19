"""The recipe reference in Markdown, generated from the schema (kept in README.md)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from factory.recipe.base import ModelSpec
from factory.recipe.schema import Recipe

START, END = "<!-- recipe-reference:start -->", "<!-- recipe-reference:end -->"


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory else field.default
    if isinstance(value, BaseModel):
        dumped = value.model_dump(exclude_defaults=True)
        return f"`{dumped}`" if dumped else "(section)"
    return f"`{value!r}`"


def _section(model: type[BaseModel], prefix: str, out: list[str]) -> None:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is not None and sub.__name__ != "ModelSpec":
            nested.append((f"{prefix}{name}", sub))
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = sub.__name__ if sub else _type_name(field.annotation)
        cells = [f"`{name}`", kind, _default(field), description]
        rows.append("| " + " | ".join(c.replace("|", "\\|") if i < 3 else c for i, c in enumerate(cells)) + " |")
    title = prefix.rstrip(".") or "top level"
    out += [f"#### `{title}`", "", (model.__doc__ or "").strip().splitlines()[0], "",
            "| field | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    for path, sub in nested:
        _section(sub, f"{path}.", out)


def recipe_reference() -> str:
    """Markdown tables of every recipe field: name, type, default and description."""
    out: list[str] = []
    _section(Recipe, "", out)
    _section(ModelSpec, "<model role>.", out)  # models.toxicity, lm_train.targets[i], ...
    return "\n".join(out).rstrip() + "\n"
