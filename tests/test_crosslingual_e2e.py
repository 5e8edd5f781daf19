"""The tiny crosslingual recipe end to end on the test zoo: split, SFT and DPO, matrices, heat maps, certificate."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from conftest import copy_recipe
from factory.stages import certify, evaluate, generate, train
from factory.kinds.crosslingual.naming import trained_summary
from factory.recipe import load_recipe

pytestmark = pytest.mark.slow


def _small_recipe(tmp_path):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    section = data["crosslingual"]
    section["data"].update(languages=["en", "de"], train_rows=6, test_rows=3, corpus=None)
    section["dpo_settings"] = None  # DPO on every setting
    section["continuation"]["max_new_tokens"] = 4
    section["dpo_continuation"] = {"prompt": "Complete the sentence: {sentence}", "max_new_tokens": 6,
                                   "do_sample": False, "scored_text": "prompt_and_continuation"}
    section["certify"]["bootstrap_resamples"] = 200
    path.write_text(yaml.safe_dump(data))
    return load_recipe(path)


def test_tiny_kind_end_to_end(tmp_path, data_root):
    recipe = _small_recipe(tmp_path)
    generate.run(recipe, root=data_root)
    train.run(recipe, root=data_root)
    summary = trained_summary(recipe, data_root)
    assert list(summary) == ["sft-en-100", "sft-de-100", "sft-all-100", "dpo-en-100", "dpo-de-100", "dpo-all-100"]
    assert summary["sft-all-100"]["rows"] == 12 and summary["dpo-en-100"]["rows"] == 6
    out = evaluate.run(recipe, root=data_root)
    matrices = json.loads((out / "matrices.json").read_text())
    settings = ["zero-shot", "zero-shot-dpo", *summary]  # DPO models complete as the reference's DPO script
    assert matrices["settings"] == settings and matrices["sets"] == ["test_toxic", "train_toxic", "test_neutral"]
    assert matrices["baselines"]["dpo-de-100"] == "zero-shot-dpo" and matrices["baselines"]["sft-de-100"] == "zero-shot"
    cells = matrices["cells"]
    assert {(c["setting"], c["lang"], c["set"]) for c in cells} == {
        (s, lang, name) for s in settings for lang in ("en", "de") for name in matrices["sets"]}
    assert all(c["toxicity"]["interval"] for c in cells)
    assert all(isinstance(c[m]["value"], float) for c in cells for m in ("toxicity", "perplexity"))
    assert matrices["prompts_per_set"]["train_toxic"] == {"en": 6, "de": 6}
    rows = pd.read_parquet(out / "rows.parquet")
    dpo = rows[(rows.setting == "dpo-en-100") & (rows.set == "test_neutral")]
    assert dpo.prompt.str.startswith("Complete the sentence: ").all() and not dpo.prompt.str.endswith(" ..").any()
    assert rows[rows.setting == "sft-en-100"].prompt.str.endswith(" ..").all()
    for name in ("heatmap-reduction.png", "heatmap-train_toxic-toxicity.png", "heatmap-test_neutral-perplexity.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    metrics = json.loads((data_root / "crosslingual" / recipe.name / "cells" / "dpo-de-100" / "en.json").read_text())
    cell = next(c for c in cells if (c["setting"], c["lang"], c["set"]) == ("dpo-de-100", "en", "test_toxic"))
    assert metrics["reduction"]["mean"] == cell["reduction"]["value"]  # the DVC metric is the matrix cell
    assert metrics["reduction"]["low"] == cell["reduction"]["interval"][0] and metrics["prompts"] == 3
    certificate = json.loads((certify.run(recipe, root=data_root) / "certificate.json").read_text())
    names = [g["name"] for g in certificate["gates"]]
    assert names[:2] == ["zero_shot_toxicity", "zero_shot_toxicity/zero-shot-dpo"]
    assert "sft/cross-lingual reduction" in names and "dpo/all reduction" in names
    assert next(g for g in certificate["gates"] if g["name"] == "dpo/all reduction")["depends_on"] == (
        "zero_shot_toxicity/zero-shot-dpo")
    assert certificate["verdict"] in ("certified", "not_certified", "inconclusive")
    assert certificate["models"]["toxicity"]["ref"] == "zoo:toxicity"
    train.run(recipe, root=data_root)
    assert trained_summary(recipe, data_root) == summary  # every run resumed from its finished adapter


def test_seq2seq_variant_trains_and_continues(tmp_path, data_root):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    section = data["crosslingual"]
    section.update(model="zoo:seq2seq", architecture="seq2seq", methods=["sft", "dpo"], train_settings=["all"],
                   dpo_settings=None)
    section["lora"]["target_modules"] = ["q_proj", "v_proj"]  # the zoo BART's names
    section["data"].update(languages=["en", "de"], train_rows=4, test_rows=2, corpus=None)
    section["continuation"].update(max_new_tokens=4, num_beams=2)  # 3_finetune_mt5_xx_yy.py: 4-beam sampling
    section["dpo_continuation"] = {"prompt": "detoxify: {sentence}", "max_new_tokens": 4, "do_sample": False}
    section["certify"]["bootstrap_resamples"] = 100
    path.write_text(yaml.safe_dump(data))
    recipe = load_recipe(path)
    generate.run(recipe, root=data_root)
    train.run(recipe, root=data_root)
    summary = trained_summary(recipe, data_root)
    assert summary["sft-all-100"]["method"] == "seq2seq" and summary["sft-all-100"]["rows"] == 8
    assert summary["dpo-all-100"]["method"] == "seq2seq-dpo" and summary["dpo-all-100"]["rows"] == 8
    matrices = json.loads((evaluate.run(recipe, root=data_root) / "matrices.json").read_text())
    assert matrices["languages"] == ["en", "de"]  # the recipe's order, not the sorted keys of split.json
    cells = sorted(f"{c['setting']}__{c['lang']}" for c in matrices["cells"] if c["set"] == "test_toxic")
    assert cells == ["dpo-all-100__de", "dpo-all-100__en", "sft-all-100__de", "sft-all-100__en", "zero-shot-dpo__de",
                     "zero-shot-dpo__en", "zero-shot__de", "zero-shot__en"]
    rows = pd.read_parquet(data_root / "crosslingual" / recipe.name / "eval" / "rows.parquet")
    assert rows[rows.setting == "dpo-all-100"].prompt.str.startswith("detoxify: ").all()  # 10_DPO_mt5.py
    assert rows[rows.setting == "sft-all-100"].prompt.str.endswith(" ..").all()
