"""The only module that reads YAML: recipes and params.yaml.

Every problem in a recipe is reported at once, each as `field.path: reason`, and the
caller gets a `RecipeError` (exit code 2) instead of a traceback.

Recipes are plain YAML, read stricter than PyYAML's safe loader does: a key given twice
in one mapping is an error (not "the last one wins"), aliases (`*name`) and merge keys
(`<<:`) are refused - a recipe spells out every value, there is no YAML inheritance, and
a few nested aliases cannot blow a 1 KB file up to gigabytes of values and messages - and
numbers such as `5e-5` and `1e4` are floats, as in YAML 1.2 (PyYAML reads them as strings).
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from factory.core.errors import FactoryError, RecipeError
from factory.recipe.base import Section, Seed
from factory.recipe.families import FAMILIES, family_of
from factory.recipe.schema import Recipe
from factory.recipe.unread import UNREAD
from factory.recipe.translate import GridParams


class RecipeYamlError(yaml.MarkedYAMLError):
    """Valid YAML that recipes do not allow (a duplicate key, an alias); `problem` says which."""


class RecipeYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without duplicate keys or aliases, and with YAML 1.2 exponent floats."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Refuse an alias where it is used (before anything is expanded)."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise RecipeYamlError(problem=f"alias *{event.anchor}: YAML aliases are not allowed (recipes are "
                                          "plain YAML, without inheritance); write the value out",
                                  problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose keys are all different; a repeated key names both lines."""
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise RecipeYamlError(problem="merge key <<: not allowed (recipes are plain YAML, without "
                                              "inheritance); write the keys out", problem_mark=key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    raise RecipeYamlError(problem=f"duplicate key {_shorten(key)} (first on line {first_line[key] + 1}"
                                                  "); each key may appear once", problem_mark=key_node.start_mark)
                first_line[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: the base constructor reports it
                continue
        return super().construct_mapping(node, deep=deep)


RecipeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

MAX_SHOWN = 80
"""Characters of an input value shown in a message at most."""

MAX_MESSAGE = 300
"""Characters of one validation message at most (custom validators quote values too)."""



def _shorten(value: Any, limit: int = MAX_SHOWN) -> str:
    """`repr(value)`, cut to `limit` characters without building the whole repr of a huge value."""
    short = reprlib.Repr()  # keyword arguments need Python 3.12
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict = 3, 8, 8, 8
    short.maxstring = short.maxother = short.maxlong = limit
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise RecipeError(str(path), ["file not found"])
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=RecipeYamlLoader)
    except UnicodeDecodeError as exc:
        raise RecipeError(str(path), [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except RecursionError:
        raise RecipeError(str(path), ["nested too deeply to read"]) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise RecipeError(str(path), [f"not valid YAML ({str(exc).split(':')[0][:MAX_SHOWN]})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or exc
        if isinstance(exc, RecipeYamlError):
            raise RecipeError(str(path), [f"{where}{problem}"]) from None
        raise RecipeError(str(path), [f"{where}not valid YAML ({problem})"]) from None


def read_recipe_yaml(path: Path | str) -> Any:
    """The recipe file's YAML as read (not validated), for callers that need what the file spells out."""
    return _read_yaml(Path(path))


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else str(part)[:MAX_SHOWN]
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] = Recipe) -> type[BaseModel] | None:
    model: Any = root
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


def describe_error(err: dict[str, Any], root: type[BaseModel] = Recipe) -> str:
    """Turn one pydantic error into `field.path: reason (got value)`; `root` is the model validated (the recipe's
    family), where the allowed fields of an unknown one are looked up."""
    loc = tuple(err["loc"])
    if err["type"] == UNREAD:
        return f"{_field_path(loc)}: {err['msg']}"
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1], root)
        allowed = ", ".join(parent.model_fields) if parent else "see the recipe reference"
        return f"{_field_path(loc)}: unknown field (allowed here: {allowed})"
    message = err["msg"]
    if err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
    got = err.get("input")
    shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {_shorten(got)})"
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
        family = family_of(raw)
        recipe = family.model_validate(raw)
    except ValidationError as exc:
        root = FAMILIES.get(raw.get("kind"), Recipe) if isinstance(raw.get("kind"), str) else Recipe
        raise RecipeError(str(path), [describe_error(e, root) for e in exc.errors()]) from None
    recipe._path = str(path)
    return recipe


class Params(Section):
    """Run-wide knobs in params.yaml, shared by every DVC stage."""

    profile: str = Field("tiny", description="Profile of the listed recipes: tiny or full.")
    recipes: list[str] = Field(description="Recipe names to run; each is recipes/<profile>/<name>.yaml.")
    seed: Seed = Field(0, description="Seed of the tiny zoo.")
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
