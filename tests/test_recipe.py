"""Recipe schema, `factory check`, and the JSON schema export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from factory.core.errors import RecipeError
from factory.recipe import Recipe, load_recipe, recipe_json_schema, recipe_problems

REPO = Path(__file__).resolve().parent.parent
BAD = """\
name: bad
kind: shmoxify
colour: red
seed: abc
human:
  source: ./nope/missing.tsv
mix:
  ratios: [0, 0.5, 1.5]
"""


def _bad_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


def test_every_problem_is_reported_with_its_field(tmp_path):
    problems = recipe_problems(_bad_recipe(tmp_path))
    by_field = {p.split(":")[0]: p for p in problems}
    assert set(by_field) == {"kind", "colour", "seed", "human.source", "mix.ratios[2]"}
    assert "unknown field" in by_field["colour"] and "name, kind" in by_field["colour"]
    assert "not found" in by_field["human.source"]
    assert "less than or equal to 1" in by_field["mix.ratios[2]"]
    assert "'toxify'" in by_field["kind"]
    assert "integer" in by_field["seed"]


def test_check_cli_exits_2_names_the_file_and_writes_nothing(tmp_path, monkeypatch):
    bad = _bad_recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 5 and all(line.startswith(f"{bad}: ") for line in lines)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_yaml_syntax_errors_name_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nkind: [toxify\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert "line" in err.value.problems[0] and str(path) in str(err.value)


def test_non_mapping_recipe_is_an_error(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert "mapping" in recipe_problems(path)[0]


@pytest.mark.parametrize("path", sorted((REPO / "recipes").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_passes_check(path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert recipe_problems(path) == []


def test_committed_json_schema_is_current():
    committed = json.loads((REPO / "recipes" / "recipe.schema.json").read_text())
    assert committed == recipe_json_schema(), "run: factory schema --out recipes/recipe.schema.json"


def test_every_field_is_documented():
    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            assert field.description, f"{prefix}{name} has no description"
            sub = field.annotation
            args = getattr(sub, "__args__", ())
            for candidate in (sub, *args):
                if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
                    walk(candidate, f"{prefix}{name}.")
    walk(Recipe)


def test_fingerprint_changes_with_settings(monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml")
    changed = recipe.model_copy(update={"seed": recipe.seed + 1})
    assert recipe.fingerprint() != changed.fingerprint()
    assert recipe.fingerprint() == load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml").fingerprint()


def test_readme_recipe_reference_is_current():
    from factory.recipe.reference import END, START, recipe_reference

    text = (REPO / "README.md").read_text()
    section = text.split(START, 1)[1].split(END, 1)[0]
    assert section.strip() == recipe_reference().strip(), "run: factory docs"
