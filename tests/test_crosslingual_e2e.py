"""The tiny crosslingual recipe end to end on the test zoo: split, SFT and DPO, matrices, heat maps, certificate."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import copy_recipe
from factory.stages import certify, evaluate, generate, train
from factory.recipe import load_recipe

pytestmark = pytest.mark.slow


def _small_recipe(tmp_path):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    section = data["crosslingual"]
    section["data"].update(languages=["en", "de"], train_rows=6, test_rows=3, corpus=None)
    section["continuation"]["max_new_tokens"] = 4
    section["certify"]["bootstrap_resamples"] = 200
    path.write_text(yaml.safe_dump(data))
    return load_recipe(path)


def test_tiny_kind_end_to_end(tmp_path, data_root):
    recipe = _small_recipe(tmp_path)
    generate.run(recipe, root=data_root)
    trained = train.run(recipe, root=data_root)
    summary = json.loads((trained / "summary.json").read_text())
    assert sorted(summary) == ["dpo-all-100", "dpo-de-100", "dpo-en-100", "sft-all-100", "sft-de-100", "sft-en-100"]
    assert summary["sft-all-100"]["rows"] == 12 and summary["dpo-en-100"]["rows"] == 6
    out = evaluate.run(recipe, root=data_root)
    assert not (out / "cells").exists()  # the DVC metrics are the report's summary, one row per recipe
    cells = json.loads((out / "matrices.json").read_text())["cells"]
    assert {f"{c['setting']}__{c['lang']}" for c in cells} == {f"{s}__{lang}" for s in ("zero-shot", *summary)
                                                                for lang in ("en", "de")}
    assert len(cells) == 7 * 2 and all(c["toxicity"]["interval"] for c in cells)
    assert all(isinstance(c[m]["value"], float) for c in cells for m in ("toxicity", "perplexity"))
    for metric in ("toxicity", "reduction", "perplexity"):
        assert (out / f"heatmap-{metric}.png").read_bytes().startswith(b"\x89PNG")
    certificate = json.loads((certify.run(recipe, root=data_root) / "certificate.json").read_text())
    names = [g["name"] for g in certificate["gates"]]
    assert names[0] == "zero_shot_toxicity" and "sft/cross-lingual reduction" in names
    assert "dpo/all reduction" in names and certificate["verdict"] in ("certified", "not_certified", "inconclusive")
    assert certificate["models"]["toxicity"]["ref"] == "zoo:toxicity"
    again = json.loads((train.run(recipe, root=data_root) / "summary.json").read_text())
    assert again == summary  # every run resumed from its finished adapter


def test_seq2seq_variant_trains_and_continues(tmp_path, data_root):
    path = copy_recipe("crosslingual", tmp_path)
    data = yaml.safe_load(path.read_text())
    section = data["crosslingual"]
    section.update(model="zoo:seq2seq", architecture="seq2seq", methods=["sft", "dpo"], train_settings=["all"],
                   dpo_settings=None)
    section["lora"]["target_modules"] = ["q_proj", "v_proj"]  # the zoo BART's names
    section["data"].update(languages=["en", "de"], train_rows=4, test_rows=2, corpus=None)
    section["continuation"]["max_new_tokens"] = 4
    section["certify"]["bootstrap_resamples"] = 100
    path.write_text(yaml.safe_dump(data))
    recipe = load_recipe(path)
    generate.run(recipe, root=data_root)
    summary = json.loads((train.run(recipe, root=data_root) / "summary.json").read_text())
    assert summary["sft-all-100"]["method"] == "seq2seq" and summary["sft-all-100"]["rows"] == 8
    assert summary["dpo-all-100"]["method"] == "seq2seq-dpo" and summary["dpo-all-100"]["rows"] == 8
    matrices = json.loads((evaluate.run(recipe, root=data_root) / "matrices.json").read_text())
    assert matrices["languages"] == ["en", "de"]  # the recipe's order, not the sorted keys of split.json
    cells = sorted(f"{c['setting']}__{c['lang']}" for c in matrices["cells"])
    assert cells == ["dpo-all-100__de", "dpo-all-100__en", "sft-all-100__de", "sft-all-100__en", "zero-shot__de",
                     "zero-shot__en"]
