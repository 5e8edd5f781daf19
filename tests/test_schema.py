"""The committed editor schema (recipes/recipe.schema.json) accepts every bundled recipe and
still rejects what the recipe loader rejects (unknown keys, wrong types)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BUNDLED = sorted([*(REPO / "recipes" / "tiny").glob("*.yaml"), *(REPO / "recipes" / "full").glob("*.yaml")])


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "recipes" / "recipe.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, data: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_recipe_is_valid_under_the_editor_schema(validator, path):
    assert len(BUNDLED) >= 15
    assert _errors(validator, yaml.safe_load(path.read_text())) == []


def test_a_model_is_a_bare_string_or_an_object_and_nothing_else(validator):
    recipe = yaml.safe_load((REPO / "recipes" / "tiny" / "toxify.yaml").read_text())
    recipe["models"]["toxicity"] = {"ref": "package:profanity-check", "label": 1}
    recipe["models"]["fluency"] = "zoo:fluency"
    assert _errors(validator, recipe) == []
    recipe["models"]["toxicity"] = {"ref": "package:profanity-check", "lable": 1}  # typo
    recipe["models"]["fluency"] = 3
    recipe["generate"]["typo"] = True
    problems = _errors(validator, recipe)
    assert len(problems) == 3 and any("'typo' was unexpected" in p for p in problems)
    assert {p.split(":")[0] for p in problems} == {"models.toxicity", "models.fluency", "generate"}


def test_licences_are_hub_ids_and_other_needs_a_note(validator, tmp_path):
    from factory.recipe import recipe_problems

    text = (REPO / "recipes" / "tiny" / "toxify.yaml").read_text()
    (tmp_path / "bad").mkdir()
    (tmp_path / "other").mkdir()
    bad = tmp_path / "bad" / "toxify.yaml"  # the file stem must be the recipe's name
    bad.write_text(text.replace("  license: apache-2.0\n", "  license: Apache 2.0\n"))
    assert recipe_problems(bad) == [
        "publish.license: 'Apache 2.0' is not a Hub licence id (see https://huggingface.co/docs/hub/"
        "repositories-licenses; use `other` and explain it in publish.license_note) (got 'Apache 2.0')"]
    assert [p.split(":")[0] for p in _errors(validator, yaml.safe_load(bad.read_text()))] == ["publish.license"]
    other = tmp_path / "other" / "toxify.yaml"
    other.write_text(text.replace("  generator_license: apache-2.0\n", "  generator_license: other\n"))
    assert recipe_problems(other) == ["publish: license_note is empty: say which licence generator_license `other` is"]
    other.write_text(other.read_text() + "  license_note: The generator's own licence, in LICENSE.\n")
    assert recipe_problems(other) == []
