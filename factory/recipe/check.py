"""`factory check`: validate recipes named by file or by name, or params.yaml and every recipe it lists."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from factory.core.errors import FactoryError, RecipeError
from factory.recipe.loader import Params, load_params, recipe_file, recipe_path, recipe_problems

Report = list[tuple[str, list[str]]]
"""(what was checked, its problems), one entry per file; no problems: it is valid."""


def listed_recipes(params: Params) -> tuple[list[Path], list[str]]:
    """The recipe files params.yaml lists, and a problem for each listed name that resolves to no file
    (or a grid recipe missing from `recipes`)."""
    files, problems = [], []
    for name in params.recipes:
        path = recipe_file(name, params.profile)
        if path.is_file():
            files.append(path)
        else:
            problems.append(f"recipes: {name!r} resolves to no recipe file ({path} does not exist; profile "
                            f"{params.profile})")
    for name in params.grid.recipes if params.grid else []:
        if name not in params.recipes:
            problems.append(f"grid.recipes: {name!r} is not listed in recipes")
    return files, problems


def _problems(path: Path) -> list[str]:
    try:
        return recipe_problems(path)
    except FactoryError as exc:
        return [str(exc)]


def _check_target(target: str) -> tuple[str, list[str]]:
    try:
        path = recipe_path(target)
    except RecipeError as exc:  # params.yaml itself is broken
        return exc.path, exc.problems
    except FactoryError as exc:
        return target, [str(exc)]
    return str(path), _problems(path)


def check_recipes(targets: Sequence[str], params_file: Path = Path("params.yaml")) -> Report:
    """Check each target (a recipe file, or a name resolved by params.yaml's profile); without
    targets, check params.yaml and every recipe it lists."""
    if targets:
        return [_check_target(target) for target in targets]
    try:
        params = load_params(params_file)
    except RecipeError as exc:
        return [(str(params_file), exc.problems)]
    files, problems = listed_recipes(params)
    return [(str(params_file), problems), *((str(path), _problems(path)) for path in files)]
