"""Stage `generate`: one module per recipe kind; `run` dispatches on `recipe.kind`."""

from __future__ import annotations

from pathlib import Path

from factory.errors import FactoryError, check_limit
from factory.recipe import Recipe


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Generate the recipe's synthetic rows into data/generated/<recipe>/."""
    check_limit(limit, "generate")
    if recipe.kind in ("toxify", "detoxify"):
        from factory.generate import rewrite

        return rewrite.run(recipe, recipe.kind, root=root, limit=limit)
    if recipe.kind == "distill":
        from factory.generate import distill

        return distill.run(recipe, root=root, limit=limit)
    if recipe.kind == "selfgen":
        from factory.generate import selfgen

        return selfgen.run(recipe, root=root, limit=limit)
    if recipe.kind == "crosslingual":
        from factory.kinds_crosslingual import generate as generate_split

        return generate_split(recipe, root, limit)
    if recipe.kind == "translate":
        from factory.generate import translate

        return translate.run(recipe, root=root, limit=limit)
    raise FactoryError(f"{recipe.path}: kind: {recipe.kind!r} generation is not implemented yet")
