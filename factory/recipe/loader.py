"""The only module that reads YAML: recipes and params.yaml.

Every problem in a recipe is reported at once, each as `field.path: reason`, and the
caller gets a `RecipeError` (exit code 2) instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from factory.errors import FactoryError, RecipeError
from factory.recipe.base import Section
from factory.recipe.schema import Recipe
from factory.recipe.translate import GridParams


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise RecipeError(str(path), ["file not found"])
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RecipeError(str(path), [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RecipeError(str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Recipe
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = field.annotation
        args = getattr(model, "__args__", ())
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), model)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def describe_error(err: dict[str, Any]) -> str:
    """Turn one pydantic error into `field.path: reason (got value)`."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see the recipe reference"
        return f"{_field_path(loc)}: unknown field (allowed here: {allowed})"
    message = err["msg"]
    if err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
    return f"{_field_path(loc)}: {message}{shown}"


def recipe_problems(path: Path | str) -> list[str]:
    """Every problem in the recipe at `path`, as `field.path: reason` lines ([] if none)."""
    try:
        recipe = load_recipe(path)
    except RecipeError as exc:
        return exc.problems
    stem = Path(path).stem
    if recipe.name != stem:  # names find files (recipes/<profile>/<name>.yaml) and data folders (data/*/<name>)
        return [f"name: {recipe.name!r} differs from the file name {stem!r} (a recipe named X is the file X.yaml)"]
    return []


def load_recipe(path: Path | str) -> Recipe:
    """Read and validate a recipe; raise `RecipeError` listing every problem."""
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise RecipeError(str(path), [f"a recipe is a mapping of fields, got {type(raw).__name__}"])
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(str(path), [describe_error(e) for e in exc.errors()]) from None
    recipe._path = str(path)
    return recipe


class Params(Section):
    """Run-wide knobs in params.yaml, shared by every DVC stage."""

    profile: str = Field("tiny", description="Profile of the listed recipes: tiny or full.")
    recipes: list[str] = Field(description="Recipe names to run; each is recipes/<profile>/<name>.yaml.")
    seed: int = Field(0, description="Seed of the tiny zoo.")
    zoo_scale: float = Field(1.0, gt=0, description="Multiplier of the tiny zoo's training steps.")
    grid: GridParams | None = Field(None, description="The translate recipe's grid, expanded by DVC `matrix` stages.")


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(str(path), [describe_error(e) for e in exc.errors()]) from None


def recipe_file(name: str, profile: str) -> Path:
    """Where the recipe `name` of a profile lives: recipes/<profile>/<name>.yaml."""
    return Path("recipes") / profile / f"{name}.yaml"


def recipe_path(name_or_path: str, params: Params | None = None) -> Path:
    """Resolve a recipe name (`toxify`) or path (`recipes/tiny/toxify.yaml`) to a file path.

    A name is looked up in the profile of `params` (default: params.yaml's, when it exists).
    """
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    if params is None and Path("params.yaml").is_file():
        params = load_params()
    profile = params.profile if params else "tiny"
    found = recipe_file(name_or_path, profile)
    if not found.exists():
        raise FactoryError(f"recipe {name_or_path!r}: no file {found} (profile {profile})")
    return found


def read_dvc_lock(path: Path | str = "dvc.lock") -> dict[str, Any]:
    """DVC's lock file as a dict ({} when absent or unreadable): stage hashes for provenance."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
