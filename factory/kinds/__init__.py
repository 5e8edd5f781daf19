"""The registry of recipe kinds: the one table that says which module implements a kind.

Every stage asks `kind_of(recipe)` instead of branching on `recipe.kind`; adding a kind is
one package under `factory/kinds/` implementing `factory.kinds.base.Kind` and one line here
(see the README, "Adding a kind"). The table holds module names, not modules, so that
loading the CLI imports no kind's algorithms, and `factory pipeline` reads it to give a
stage the code of its recipe's kind only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from factory.core.errors import FactoryError

if TYPE_CHECKING:
    from factory.kinds.base import Kind

KINDS: dict[str, str] = {
    "toxify": "factory.kinds.rewrite",
    "detoxify": "factory.kinds.rewrite",
    "distill": "factory.kinds.lm",
    "selfgen": "factory.kinds.lm",
    "translate": "factory.kinds.translate",
    "crosslingual": "factory.kinds.crosslingual",
}
"""Kind name (the recipe's `kind`) -> the module implementing it."""


def kind_of(recipe: Any) -> "Kind":
    """The module implementing the kind of `recipe` (a recipe or a kind name)."""
    name = recipe if isinstance(recipe, str) else recipe.kind
    if name not in KINDS:
        where = "" if isinstance(recipe, str) else f"{recipe.path or recipe.name}: "
        raise FactoryError(f"{where}kind: {name!r} is not a registered kind (known: {', '.join(KINDS)})")
    return importlib.import_module(KINDS[name])  # type: ignore[return-value]


def all_kinds() -> list["Kind"]:
    """Every registered kind module, once each, in table order."""
    return [importlib.import_module(module) for module in dict.fromkeys(KINDS.values())]  # type: ignore[misc]
