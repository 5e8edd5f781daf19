"""Each kind family takes only the sections its kinds read (factory/recipe/families.py): a setting no
stage of the kind reads is an error naming its path and what the kind reads instead, and it no
longer reaches the certificate's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from factory.cli import app
from factory.recipe import Recipe, load_recipe, recipe_problems

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "recipes" / "tiny"


def _with(tmp_path: Path, name: str, extra: str, replace: tuple[str, str] = ("", "")) -> Path:
    """recipes/tiny/<name>.yaml with `extra` YAML appended (and one text replaced), under tmp_path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text((TINY / f"{name}.yaml").read_text().replace(*replace) + extra)
    return path


def test_check_rejects_sections_a_distill_recipe_does_not_read(tmp_path):
    path = _with(tmp_path, "distill", "train: {epochs: 99}\nevaluate: {num_beams: 7}\n"
                                      "certify: {min_rows: 100000}\ngenerate: {backend: hf}\n")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert sorted(result.output.splitlines()) == sorted([
        f"{path}: train: not read by kind distill (its training settings are lm_train)",
        f"{path}: evaluate: not read by kind distill (its evaluation settings are lm_evaluate)",
        f"{path}: certify.min_rows: not read by kinds distill and selfgen (their gates are lm_certify)",
        f"{path}: generate: not read by kind distill (it decodes with transformers; its settings are distill)",
    ])


def test_unread_sections_are_reported_with_every_other_problem(tmp_path):
    path = _with(tmp_path, "translate", "lm_train: {}\nabliterate: {model: zoo:causal-lm}\n",
                 ("certify:\n", "certify:\n  min_sim_ratio: 0.5\n  decision: sometimes\n"))
    problems = recipe_problems(path)
    assert sorted(problems) == sorted([
        "lm_train: not read by kind translate (its training settings are train)",
        "abliterate: not read by kind translate (only kinds toxify and detoxify)",
        "certify.min_sim_ratio: not read by kind translate (its quality gates are translate.gates)",
        "certify.decision: Input should be 'interval' or 'point' (got 'sometimes')",
    ])


@pytest.mark.parametrize(("kind", "section", "reason"), [
    ("selfgen", "prompt", "selfgen prompts with BOS alone"),
    ("translate", "checks", "translate's checks are translate.checks"),
])
def test_generate_prompt_and_checks_belong_to_the_rewrite_kinds(tmp_path, kind, section, reason):
    path = _with(tmp_path, kind, "", ("generate:\n", f"generate:\n  {section}: {{}}\n"))
    (problem,) = recipe_problems(path)
    assert problem.startswith(f"generate.{section}: not read by kinds selfgen and translate (") and reason in problem
    assert Recipe.model_validate({"name": "t", "kind": "toxify", "generate": {section: {}}}).generate


def test_recipe_builds_the_family_of_its_kind_and_absent_sections_read_as_none():
    distill = load_recipe(TINY / "distill.yaml")
    assert isinstance(distill, Recipe) and type(distill).__name__ == "DistillRecipe"
    assert distill.train is None and distill.evaluate is None and distill.generate is None
    assert distill.abliterate is None and distill.translate is None
    assert {"train", "evaluate", "generate", "abliterate"}.isdisjoint(distill.model_dump())
    toxify = Recipe(name="t", kind="toxify")
    assert type(toxify).__name__ == "RewriteRecipe" and toxify.lm_train is None and toxify.distill is None
    assert toxify.generate.checks.max_attempts == 1 and toxify.certify.min_sim_ratio == 0.8


def test_merged_training_settings_keep_their_defaults():
    from factory.recipe.lm import CausalFineTune, LMTrain
    from factory.recipe.study import Train

    assert Train().model_dump() == {"epochs": 10, "max_steps": None, "learning_rate": 5e-5, "weight_decay": 1e-4,
                                    "batch_size": 32, "warmup_steps": 200, "schedule": "linear", "max_length": 256,
                                    "save_every": 500, "adam_beta2": 0.999}
    assert LMTrain().loop_settings() == Train(epochs=3, max_steps=3000, weight_decay=0.0, batch_size=8,
                                              warmup_steps=0)
    assert CausalFineTune().method == "full" and CausalFineTune().precision == "fp32"


def test_provenance_records_only_the_sections_the_kind_reads():
    from factory.provenance import generation, study_settings

    distill = load_recipe(TINY / "distill.yaml")
    assert set(study_settings(distill)) == {"mix", "lm_train", "lm_evaluate", "distill"}
    assert generation(distill) is None
    selfgen = generation(load_recipe(TINY / "selfgen.yaml"))
    assert selfgen["prompt"] is None and selfgen["backend"] == "hf"
    assert set(study_settings(load_recipe(TINY / "toxify.yaml"))) == {"mix", "train", "evaluate"}


def test_the_editor_schema_rejects_an_unread_section_at_its_path():
    schema = json.loads((REPO / "recipes" / "recipe.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    recipe = yaml.safe_load((TINY / "distill.yaml").read_text())
    assert list(validator.iter_errors(recipe)) == []
    recipe["train"] = {"epochs": 99}
    recipe["lm_certify"]["min_rows"] = "many"
    errors = sorted(validator.iter_errors(recipe), key=lambda e: e.message)
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["lm_certify", "min_rows"], "type"), ([], "additionalProperties")]
    assert "'train' was unexpected" in errors[1].message
    assert list(validator.iter_errors({**yaml.safe_load((TINY / "toxify.yaml").read_text()), "kind": "nope"}))
