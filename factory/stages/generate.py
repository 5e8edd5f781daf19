"""Stage `generate`: the recipe's kind writes its synthetic rows (`factory.kinds`)."""

from __future__ import annotations

from pathlib import Path

from factory.core.errors import check_limit
from factory.kinds import kind_of
from factory.recipe import Recipe


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Generate the recipe's synthetic rows into data/generated/<recipe>/."""
    check_limit(limit, "generate")
    return kind_of(recipe).generate(recipe, root, limit)
