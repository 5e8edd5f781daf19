"""The recipe reference in Markdown, generated from the schema (kept in README.md)."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from factory.recipe.base import ModelSpec
from factory.recipe.families import FAMILIES
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


def _rows(model: type[BaseModel], names: list[str]) -> list[str]:
    rows = []
    for name in names:
        field = model.model_fields[name]
        sub = _submodel(field.annotation)
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = sub.__name__ if sub else _type_name(field.annotation)
        cells = [f"`{name}`", kind, _default(field), description]
        rows.append("| " + " | ".join(c.replace("|", "\\|") if i < 3 else c for i, c in enumerate(cells)) + " |")
    return rows


class _Reference:
    """Markdown of recipe sections, each (path, model) once; a path with several models names each model."""

    def __init__(self, shared_paths: set[str]):
        self.out: list[str] = []
        self.done: set[tuple[str, type[BaseModel]]] = set()
        self.shared_paths = shared_paths

    def section(self, model: type[BaseModel], prefix: str, names: list[str] | None = None, title: str = "") -> None:
        """The table of `model` (only `names` when given), then its nested sections."""
        names = list(model.model_fields) if names is None else names
        path = prefix.rstrip(".")
        if not title:
            title = f"`{path}`" + (f" ({model.__name__})" if path in self.shared_paths else "")
        self.out += [f"#### {title}", "", (model.__doc__ or "").strip().splitlines()[0], "",
                     "| field | type | default | meaning |", "|---|---|---|---|", *_rows(model, names), ""]
        for name in names:
            sub = _submodel(model.model_fields[name].annotation)
            if sub is not None and sub.__name__ != "ModelSpec" and (f"{prefix}{name}", sub) not in self.done:
                self.done.add((f"{prefix}{name}", sub))
                self.section(sub, f"{prefix}{name}.")


def _paths(model: type[BaseModel], prefix: str, found: dict[str, set[type]]) -> None:
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is not None and sub.__name__ != "ModelSpec":
            found.setdefault(f"{prefix}{name}", set()).add(sub)
            _paths(sub, f"{prefix}{name}.", found)


def recipe_reference() -> str:
    """Markdown tables of every recipe field: name, type, default and description; the sections every kind
    reads, then those of each kind family."""
    classes = list(dict.fromkeys(FAMILIES.values()))
    found: dict[str, set[type]] = {}
    for cls in (Recipe, *classes):
        _paths(cls, "", found)
    reference = _Reference({path for path, models in found.items() if len(models) > 1})
    reference.section(Recipe, "", title="top level (every kind)")
    for cls in classes:
        kinds = ", ".join(k for k, c in FAMILIES.items() if c is cls)
        own = [n for n, f in cls.model_fields.items() if n != "kind" and Recipe.model_fields.get(n) != f]
        reference.section(cls, "", own, title=f"top level, kind {kinds} ({cls.__name__})")
    reference.section(ModelSpec, "<model role>.")  # models.toxicity, lm_train.targets[i], ...
    return "\n".join(reference.out).rstrip() + "\n"
