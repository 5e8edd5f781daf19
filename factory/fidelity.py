"""The fidelity table (issue 15): each method's reference settings against the `full` recipes.

One source, `factory/data/fidelity.yaml`: per method, every setting its paper's released code
fixes, the reference value and file, and the recipe field that holds it. From it:

- `readme_table` renders the README's "Fidelity to the papers" table (`python -m factory docs`),
  the project column read from the `full` recipes themselves, so it cannot fall behind them;
- `deviations` lists, for one recipe, the rows whose value differs from the reference (the card's
  "Deviations from the reference");
- `j_reference` names the reference definition a recipe's J follows and its SIM model.

docs/fidelity.md keeps the line-by-line audit (line numbers, reasoning) behind the rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from factory.recipe import Recipe

TABLE = Path(__file__).resolve().parent / "data" / "fidelity.yaml"
FULL_RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "full"
START, END = "<!-- fidelity-table:start -->", "<!-- fidelity-table:end -->"


@dataclass(frozen=True)
class Row:
    """One setting of a method: the reference value and where the recipe holds it."""

    setting: str
    reference: str
    file: str
    field: str | None = None
    value: Any = None
    project: str | None = None
    status: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Method:
    """A method, its reference code, the `full` recipes that claim it, and its rows."""

    name: str
    kind: str
    code: str
    recipes: tuple[str, ...]
    rows: tuple[Row, ...]


@cache
def _data() -> dict[str, Any]:
    return yaml.safe_load(TABLE.read_text(encoding="utf-8"))


def methods() -> list[Method]:
    """Every method of the table, in order."""
    return [Method(m["name"], m["kind"], m["code"], tuple(m["recipes"]), tuple(Row(**row) for row in m["rows"]))
            for m in _data()["methods"]]


def field_value(recipe: Recipe, path: str) -> Any:
    """The value at a dotted field path of `recipe` (a missing section: None); models as plain data."""
    value: Any = recipe
    for key in path.split("."):
        if value is None:
            return None
        value = value.get(key) if isinstance(value, dict) else getattr(value, key)
    return value.model_dump() if isinstance(value, BaseModel) else value


def differs(row: Row, recipe: Recipe) -> bool:
    """True when the recipe does not hold the reference value (a row without a field: its status says)."""
    if row.field is None:
        return row.status == "deviation"
    return field_value(recipe, row.field) != row.value


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str) and (not value or value != value.strip()):
        return json.dumps(value)  # a blank or whitespace string, such as a newline stop, stays visible
    return "null" if value is None else str(value)


def project_cell(row: Row, recipes: dict[str, Recipe]) -> str:
    """The project's value of `row` in the method's full recipes (one value, or each recipe's where they differ)."""
    if row.field is None:
        return row.project or ""
    values = {name: _shown(field_value(recipe, row.field)) for name, recipe in recipes.items()}
    if len(set(values.values())) == 1:
        return f"`{row.field}: {next(iter(values.values()))}`"
    return f"`{row.field}`: " + "; ".join(f"{name} {value}" for name, value in values.items())


def status_cell(row: Row, recipes: dict[str, Recipe]) -> str:
    """match, deviation (in which recipes), or the row's own status."""
    if row.field is None:
        return row.status or ""
    off = [name for name, recipe in recipes.items() if differs(row, recipe)]
    if not off:
        return "match"
    return "deviation" if len(off) == len(recipes) else f"deviation ({', '.join(off)})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def load_full_recipes(method: Method, folder: Path = FULL_RECIPES) -> dict[str, Recipe]:
    """The method's `full` recipes by name."""
    from factory.recipe.loader import load_recipe

    return {name: load_recipe(folder / f"{name}.yaml") for name in method.recipes}


def readme_table(folder: Path = FULL_RECIPES) -> str:
    """Markdown: per method, setting | reference (file) | this project's full recipes | status | note."""
    out: list[str] = []
    for method in methods():
        recipes = load_full_recipes(method, folder)
        out += [f"#### {method.name}", "",
                f"Reference code `{method.code}`; recipes " + ", ".join(f"`{n}`" for n in method.recipes) + ".", "",
                "| setting | reference (file) | full recipe | status | note |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(_cell(c) for c in (row.setting, f"{row.reference} (`{row.file}`)",
                                                      project_cell(row, recipes), status_cell(row, recipes),
                                                      row.note)) + " |" for row in method.rows]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def deviations(recipe: Recipe) -> list[list[str]]:
    """(setting, reference, this recipe) of every row of the recipe's method where the recipe differs."""
    rows = []
    for method in methods():
        if method.kind != recipe.kind:
            continue
        for row in method.rows:
            if differs(row, recipe):
                mine = row.project if row.field is None else f"`{row.field}: {_shown(field_value(recipe, row.field))}`"
                rows.append([row.setting, f"{row.reference} (`{row.file}`, {method.code})", mine or "", row.note])
    return rows


def j_reference(recipe: Recipe) -> str:
    """The sentence naming the reference definition the recipe's J follows and the SIM model it uses."""
    refs = _data()["j_references"]
    ref = refs.get(recipe.kind, refs["paradetox"])
    spec = getattr(recipe.evaluate, "similarity", None) or recipe.models.similarity
    sim = spec.ref if spec else "none"
    same = sim == ref["similarity"]
    tail = ("the same SIM model" if same else
            f"the reference's SIM model is {ref['similarity']}, so this J is not comparable with published figures")
    return (f"J follows {ref['name']} (`{ref['file']}`: {ref['definition']}). SIM here: `{sim}`; {tail}. "
            f"ParaDetox's own J (Logacheva et al. 2022) uses {refs['paradetox']['similarity']}.")


def fidelity_section(recipe: Recipe, *, pairs: bool) -> str:
    """The card's section: the J reference (`pairs`: kinds scored with J) and the recipe's deviations from its
    method's reference."""
    parts = [j_reference(recipe)] if pairs else []
    names = [m.name for m in methods() if m.kind == recipe.kind]
    rows = deviations(recipe)
    if not names:
        parts.append(f"The fidelity table has no reference rows for kind `{recipe.kind}` (see docs/fidelity.md).")
    elif not rows:
        parts.append(f"This recipe holds every setting of the fidelity table at the value of {names[0]}.")
    else:
        parts.append(f"Settings of this recipe that differ from {names[0]} as its released code ran it (the README's "
                     "fidelity table has them all):")
        header = "| setting | reference | this recipe | note |\n|---|---|---|---|"
        parts.append(header + "\n" + "\n".join("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows))
    return "\n\n".join(parts)


def rewrite_readme(text: str, folder: Path = FULL_RECIPES) -> str:
    """`text` with the table between START and END regenerated (unchanged when it has no such section)."""
    if START not in text or END not in text.split(START, 1)[-1]:
        return text
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{readme_table(folder)}{END}{rest.split(END, 1)[1]}"
