"""`factory abliterate RECIPE`: the recipe section, layer choice, the report, and the pipeline stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from factory.checks import is_refusal
from factory.cli import app
from factory.core.errors import FactoryError
from factory.models.abliterate_recipe import Plan, candidate_plans, choose
from factory.recipe import load_recipe, recipe_problems
from factory.recipe.abliterate import Abliterate
from factory.recipe.base import ModelSpec
from conftest import copy_recipe

SMALL = """
abliterate:
  model: zoo:causal-lm
  edit: {edit}
  layers: [0, 1]
  num_prompts: 6
  heldout_prompts: 4
  max_new_tokens: 4
  batch_size: 4
"""


def _abliterate_recipe(dest: Path, name: str = "ab", edit: str = "reference") -> Path:
    """The tiny detoxify recipe renamed, generating with its own abliterated zoo LM."""
    path = copy_recipe("detoxify", dest)
    text = path.read_text().replace("name: detoxify", f"name: {name}")
    text = text.replace("generator: zoo:causal-lm", f"generator: abliterated:{name}")
    target = dest / f"{name}.yaml"
    target.write_text(text + SMALL.format(edit=edit))
    return target


def _settings(**fields) -> Abliterate:
    return Abliterate(model=ModelSpec(ref="zoo:causal-lm"), **fields)


def test_reference_plan_edits_layers_3_to_last_and_project_tries_each_layer():
    assert candidate_plans(_settings(), 6) == [Plan((3, 4, 5))]
    assert candidate_plans(_settings(layers=[1, 0]), 6) == [Plan((0, 1))]
    assert candidate_plans(_settings(edit="project", layers=[2, 4]), 6) == [
        Plan(tuple(range(6)), source_layer=2), Plan(tuple(range(6)), source_layer=4)]
    assert len(candidate_plans(_settings(edit="project"), 6)) == 6
    with pytest.raises(FactoryError, match=r"abliterate.layers: the model has 2 decoder layers .* list the layers"):
        candidate_plans(_settings(), 2)
    with pytest.raises(FactoryError, match=r"abliterate.layers: layer 7 does not exist \(the model has 6 decoder "
                                           r"layers, 0..5\)"):
        candidate_plans(_settings(layers=[7]), 6)


def test_the_fewest_refusals_win_and_ties_go_to_the_middle_layer():
    plans = [Plan((0, 1, 2, 3), source_layer=layer) for layer in range(4)]
    assert choose(plans, [3, 1, 2, 1], 4) == 1  # layers 1 and 3 tie; 2 is the middle, 1 and 3 equally near -> lower
    assert choose(plans, [0, 0, 0, 0], 4) == 2
    assert choose(plans, [2, 2, 2, 0], 4) == 3


def test_recipe_section_must_feed_the_generator(tmp_path):
    path = _abliterate_recipe(tmp_path)
    assert recipe_problems(path) == []
    text = path.read_text()
    unused = tmp_path / "unused.yaml"
    unused.write_text(text.replace("name: ab", "name: unused").replace("generator: abliterated:ab",
                                                                        "generator: zoo:causal-lm"))
    assert any("models.generator: 'zoo:causal-lm' does not use the patched model; set abliterated:unused" in p
               for p in recipe_problems(unused))
    missing = tmp_path / "missing.yaml"
    missing.write_text(text.split("\nabliterate:")[0].replace("name: ab", "name: missing")
                       .replace("abliterated:ab", "abliterated:missing"))
    assert any("abliterated:missing is the model this recipe's `abliterate` section writes" in p
               for p in recipe_problems(missing))


def test_abliterate_recipe_on_the_zoo_writes_model_and_report(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for edit, name in (("reference", "ab"), ("project", "abp")):
        path = _abliterate_recipe(tmp_path, name, edit)
        assert runner.invoke(app, ["ingest", str(path), "--root", str(data_root)]).exit_code == 0
        result = runner.invoke(app, ["abliterate", str(path), "--root", str(data_root)])
        assert result.exit_code == 0, result.output
        folder = data_root / "models" / "abliterated" / name
        report = json.loads((folder / "abliteration.json").read_text())
        assert report["edit"] == edit and report["position"] == -3 and report["heldout"]["prompts"] == 4
        assert report["direction_prompts"]["toxic"] == {"source": "human train split, toxic side", "count": 6}
        assert 0 <= report["refusal_rate_before"] <= 1 and 0 <= report["refusal_rate_after"] <= 1
        assert report["refusals_before"] == round(report["refusal_rate_before"] * 4)
        rates = [c["refusals"] for c in report["candidates"]]
        assert len(rates) == (1 if edit == "reference" else 2)
        assert report["refusals_after"] == min(rates) and len(report["examples"]) == 4  # every held-out reply
        for when in ("before", "after"):
            assert report[f"refusals_{when}"] == sum(is_refusal(e[when], e["input"]) for e in report["examples"])
        plans = [Plan(tuple(c["layers"]), c["direction_layer"]) for c in report["candidates"]]
        assert plans[choose(plans, rates, 2)] == Plan(tuple(report["chosen"]["layers"]),
                                                      report["chosen"]["direction_layer"])
        directions = torch.load(folder / "refusal_directions.pt")
        assert directions.shape == (2, 128)
        from factory.models.loading import load_causal_lm

        model, _ = load_causal_lm(load_recipe(path).models.generator, data_root)  # abliterated:<name> resolves
        blocks = model.transformer.h
        if edit == "reference":
            for layer in (0, 1):
                v = directions[layer]
                assert torch.allclose(v @ blocks[layer].attn.c_proj.weight, torch.zeros(128), atol=1e-4)
                assert torch.allclose(blocks[layer].mlp.c_proj.weight @ v, torch.zeros(512), atol=1e-4)
        else:
            v = directions[report["chosen"]["direction_layer"]]
            for block in blocks:
                assert torch.allclose(block.attn.c_proj.weight @ v, torch.zeros(128), atol=1e-4)


def test_abliterate_cli_names_what_is_wrong(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    path = _abliterate_recipe(tmp_path)
    plain = copy_recipe("detoxify", tmp_path)
    cases = [
        (["abliterate", str(path), "--layer", "1"], "abliterate: --layer is for the MODEL form"),
        (["abliterate", str(plain)], "abliterate: recipe detoxify has no `abliterate` section"),
        (["abliterate", "no-such-model"], "abliterate: 'no-such-model' is no recipe"),
        (["abliterate", str(path), "--root", str(data_root)], "data/human/ab: missing; run `factory ingest ab"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_generating_before_abliterating_names_the_command(tmp_path, data_root):
    from factory.models.loading import resolve

    recipe = load_recipe(_abliterate_recipe(tmp_path))
    with pytest.raises(FactoryError, match=r"models.generator: abliterated:ab: .*abliterated/ab does not exist; "
                                           r"patch the model with `factory abliterate ab`"):
        resolve(recipe.models.generator, data_root)


def test_pipeline_runs_abliterate_before_generate_for_recipes_with_the_section(tmp_path, monkeypatch):
    from factory.pipeline import pipeline_stages

    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "factory").symlink_to(repo / "factory", target_is_directory=True)
    (tmp_path / "recipes" / "tiny").mkdir(parents=True)
    _abliterate_recipe(tmp_path / "recipes" / "tiny")
    copy_recipe("toxify", tmp_path / "recipes" / "tiny")
    (tmp_path / "params.yaml").write_text("recipes: [ab, toxify]\ngrid: {recipes: [], train: [], eval: []}\n")
    monkeypatch.chdir(tmp_path)
    stages = {stage.name: stage.body for stage in pipeline_stages()}
    names = list(stages)
    assert names.index("ingest-ab") < names.index("abliterate-ab") < names.index("generate-ab")
    assert "abliterate-toxify" not in stages
    ablit = stages["abliterate-ab"]
    assert ablit["cmd"] == "scripts/factory abliterate recipes/tiny/ab.yaml"
    assert ablit["outs"] == ["data/models/abliterated/ab"]
    assert "data/human/ab" in ablit["deps"] and "data/models/zoo" in ablit["deps"]
    assert "data/models/abliterated/ab" not in ablit["deps"]
    assert "factory/models/abliterate_reference.py" in ablit["deps"]
    assert "data/models/abliterated/ab" in stages["generate-ab"]["deps"]


def test_card_names_the_model_that_was_patched(tmp_path):
    from factory.publish_sources import license_parts

    parts = {what: licence for licence, what in license_parts(load_recipe(_abliterate_recipe(tmp_path)))}
    assert parts["outputs of `abliterated:ab` (`zoo:causal-lm`, activation-patched)"] == "apache-2.0"
