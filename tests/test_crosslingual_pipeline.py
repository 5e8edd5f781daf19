"""The DVC stages of a crosslingual recipe (`factory pipeline`): one per trained model, one per (model, eval
language) cell or per model, the gathering stage, and the parts of the section each stage tracks."""

from __future__ import annotations

from pathlib import Path

from factory.kinds.crosslingual.pipeline_stages import stage_specs
from factory.recipe import load_recipe

REPO = Path(__file__).resolve().parent.parent


def test_full_recipe_has_a_stage_per_setting_and_per_cell():
    recipe = load_recipe(REPO / "recipes/full/crosslingual-aya-expanse-8b.yaml")
    specs = stage_specs(recipe)
    trains = [key[1] for key in specs if key[0] == "train"]
    cells = [key[1:] for key in specs if key[0] == "evaluate" and len(key) == 3]
    assert trains == ["sft-en-100", "sft-es-100", "sft-de-100", "sft-zh-100", "sft-ar-100", "sft-hi-100",
                      "sft-uk-100", "sft-ru-100", "sft-am-100", "sft-all-10", "sft-all-20", "sft-all-30",
                      "sft-all-100", "dpo-all-100"]
    rows = ["zero-shot", "zero-shot-dpo", "zero-shot-reference", *trains]
    assert cells == [(row, lang) for row in rows for lang in recipe.crosslingual.data.languages]  # 17 x 9
    cell = specs[("evaluate", "dpo-all-100", "de")]
    assert "data/crosslingual/{recipe}/cells/zero-shot-dpo/{lang}.parquet" in cell.deps  # paired with its baseline
    assert cell.metrics == ("data/crosslingual/{recipe}/cells/{setting}/{lang}.json",)
    assert not any("trained" in dep for dep in specs[("evaluate", "zero-shot-reference", "de")].deps)
    assert "crosslingual.certify" not in " ".join(specs[("train", "sft-de-100")].narrow)  # thresholds retrain nothing
    assert ("embed",) in specs and ("evaluate",) in specs


def test_per_setting_stages_cover_every_language():
    recipe = load_recipe(REPO / "recipes/tiny/crosslingual.yaml")
    assert recipe.crosslingual.evaluate_stages == "per_setting"
    specs = stage_specs(recipe)
    assert not [key for key in specs if key[0] == "evaluate" and len(key) == 3]
    spec = specs[("evaluate", "sft-de-100")]
    assert "--lang" not in spec.args and len(spec.outs) == len(spec.metrics) == 3
    assert spec.deps[-3:] == tuple(f"data/crosslingual/{{recipe}}/cells/zero-shot/{lang}.parquet"
                                   for lang in ("en", "de", "es"))
