"""selfgen rank cut, LM metrics on hand-made scores, LM gates, prompt files, recipe checks."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from factory import metrics_lm
from factory.recipe import Recipe


def _recipe(**changes) -> Recipe:
    data = {"name": "t", "kind": "selfgen", "models": {"generator": "zoo:causal-lm"},
            "selfgen": {"keep_fraction": 0.5, "min_words": 1}, **changes}
    return Recipe.model_validate(data)


def test_rank_cut_keeps_the_lowest_share_not_a_threshold():
    from factory.generate.selfgen import rank_cut

    scores = np.array([0.9, 0.1, 0.5, 0.1, 0.7, 0.3])
    np.testing.assert_array_equal(rank_cut(scores, 0.5), [False, True, False, True, False, True])
    # all texts very toxic: a threshold would keep none, the rank cut still keeps half
    assert rank_cut(np.full(8, 0.99), 0.5).sum() == 4
    assert rank_cut(scores, 0.0).sum() == 0 and rank_cut(scores, 1.0).all()


def test_selfgen_rows_keep_dropped_ones_with_their_reason():
    from factory.generate.selfgen import score_and_cut

    texts = ["a calm text", "a rude text", "", "a plain text", "another rude text"]
    toxicity = np.array([0.2, 0.9, 0.0, 0.1, 0.8])
    rows = score_and_cut(_recipe(), texts, toxicity)
    assert [r.drop_reason for r in rows] == [None, "selfgen_rank_cut", "selfgen_empty", None, "selfgen_rank_cut"]
    assert [r.attributes.get("toxicity_rank") for r in rows] == [1, 3, None, 0, 2]
    assert all(r.kind == "text" and r.source == "synthetic:selfgen" for r in rows)


def test_emt_and_tp_on_hand_made_scores():
    scores = [[0.1, 0.6, 0.2], [0.5, 0.5, 0.4], [0.0, 0.0, 0.9]]
    assert metrics_lm.expected_max_toxicity(scores) == pytest.approx((0.6 + 0.5 + 0.9) / 3)
    assert metrics_lm.toxicity_probability(scores, 0.5) == pytest.approx(2 / 3)  # 0.5 is not > 0.5
    assert metrics_lm.toxicity_probability(scores, 0.95) == 0.0


def test_distinct_n_is_per_prompt_over_words_then_averaged():
    texts = [["the cat sat", "the cat ran"], ["a a a a"]]
    # prompt 1: 6 words, unigrams {the, cat, sat, ran} = 4, bigrams {the cat, cat sat, cat ran} = 3
    # prompt 2: 4 words, unigrams {a} = 1, bigrams {a a} = 1
    assert metrics_lm.distinct_n_per_prompt(texts, 1) == pytest.approx((4 / 6 + 1 / 4) / 2)
    assert metrics_lm.distinct_n_per_prompt(texts, 2) == pytest.approx((3 / 6 + 1 / 4) / 2)
    assert metrics_lm.distinct_n_per_prompt([[""]], 1) == 0.0


def test_perplexity_mean_leaves_out_huge_and_empty_continuations():
    mean, left_out = metrics_lm.mean_perplexity([math.log(10) * 2, math.log(1e5) * 3, 0.0, math.log(30)], [2, 3, 0, 1])
    assert mean == pytest.approx(20.0) and left_out == 2


def test_lm_gates_compare_each_target_with_its_base():
    from factory.kinds.lm.certification import lm_gates

    recipe = _recipe(lm_certify={"min_emt_reduction": 0.2, "max_ppl_increase": 0.5, "min_distinct2_ratio": 0.9},
                     certify={"decision": "point"})  # no per-prompt scores here: no intervals
    evaluation = {"targets": {"m": {"base": "base/m", "detoxified": {"ratio-1.00": "m/ratio-1.00"}}},
                  "systems": {"base/m": {"EMT": 0.5, "TP": 0.4, "PPL": 20.0, "distinct_2_per_prompt": 0.8},
                              "m/ratio-1.00": {"EMT": 0.3, "TP": 0.1, "PPL": 32.0, "distinct_2_per_prompt": 0.76}}}
    gates = {g.name: g for g in lm_gates(recipe, {"contamination": 0, "kept": 50}, evaluation, {})}
    assert gates["emt_reduction[m]"].value == pytest.approx(0.4) and gates["emt_reduction[m]"].passed
    assert gates["tp_reduction[m]"].value == pytest.approx(0.75)
    assert gates["ppl_increase[m]"].value == pytest.approx(0.6) and not gates["ppl_increase[m]"].passed
    distinct = gates["distinct2_per_prompt_ratio[m]"]
    assert distinct.value == pytest.approx(0.95) and distinct.passed
    assert gates["contamination"].passed and gates["rows"].passed
    missing = lm_gates(recipe, {"contamination": 0, "kept": 50}, {"targets": {}, "systems": {}}, {})
    assert not all(g.passed for g in missing)


def test_prompt_files_toxigen_and_jsonl(tmp_path):
    from factory.evaluate.lm_prompts import load_prompts

    toxigen = tmp_path / "hate_group_1k.txt"
    toxigen.write_text("- first thing\\n- second thing\\n-\n- second thing\\n- third thing\\n-\n")
    jsonl = tmp_path / "rtp.jsonl"
    jsonl.write_text(json.dumps({"prompt": {"text": "So I told him"}, "challenging": True}) + "\n"
                     + json.dumps({"prompt": "Plain prompt", "group": "g2"}) + "\n")
    settings = _recipe(lm_evaluate={"prompts": [str(toxigen), str(jsonl)]}).lm_evaluate
    prompts = load_prompts(settings, seed=0)
    assert [(p.group, p.text) for p in prompts] == [
        ("hate_group", "first thing"), ("hate_group", "second thing"), ("hate_group", "third thing"),
        ("rtp", "So I told him"), ("g2", "Plain prompt")]
    whole = load_prompts(settings.model_copy(update={"toxigen_split": False}), seed=0)
    assert whole[0].text == "- first thing\n- second thing\n-"
    assert len(load_prompts(settings, seed=0, per_group=2)) == 4


def test_bad_prompt_line_names_file_and_line(tmp_path):
    from factory.core.errors import FactoryError
    from factory.evaluate.lm_prompts import load_prompts

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": {"text": "ok"}}\n{"prompt": {}}\n')
    with pytest.raises(FactoryError, match=r"bad.jsonl: line 2: no prompt text"):
        load_prompts(_recipe(lm_evaluate={"prompts": [str(bad)]}).lm_evaluate, seed=0)


def test_kind_sections_are_required_and_exclusive():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"selfgen\n  Field required"):
        Recipe.model_validate({"name": "t", "kind": "selfgen", "models": {"generator": "zoo:causal-lm"}})
    with pytest.raises(ValidationError, match=r"distill\n  not read by kind selfgen \(only kind distill\)"):
        _recipe(distill={})
    with pytest.raises(ValidationError, match=r"lm_train\n  not read by kind toxify \(its training settings are "):
        Recipe.model_validate({"name": "t", "kind": "toxify", "lm_train": {}})
    with pytest.raises(ValidationError, match="models.generator"):
        Recipe.model_validate({"name": "t", "kind": "selfgen", "selfgen": {}})
    defaults = _recipe()
    assert defaults.lm_train.max_steps == 3000 and defaults.lm_evaluate.continuations == 25


@pytest.mark.realdata
def test_corpus_report_of_the_unidetox_distilled_texts(shared_data):
    from factory.filter.diversity import corpus_report
    from factory.core.text import words

    path = shared_data / "unidetox" / "distilled_gpt2xl_alpha0.1.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        texts = [row["Text"] for row in csv.DictReader(handle)]
    report = corpus_report(texts)
    tokens = [w for t in texts for w in words(t)]
    assert report["rows"] == 640 == len(texts)
    assert report["tokens"] == len(tokens)
    assert report["vocabulary"] == len(set(tokens))
    assert report["distinct_1"] == pytest.approx(len(set(tokens)) / len(tokens))
    assert report["distinct_1"] < report["distinct_2"] < report["distinct_3"] <= 1.0


def test_hub_prompt_sets_group_by_a_column(monkeypatch):
    import datasets

    from factory.core.errors import FactoryError
    from factory.evaluate.lm_prompts import load_prompts

    table = datasets.Dataset.from_dict({"text": ["a b", "c d", "", "e f"], "target_group": ["x", "y", "x", "x"]})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: calls.append((args, kwargs)) or table)
    settings = _recipe(lm_evaluate={"prompts": ["toxigen/toxigen-data"], "hub_config": "annotated",
                                    "group_field": "target_group"}).lm_evaluate
    prompts = load_prompts(settings, seed=0)
    assert [(p.group, p.text) for p in prompts] == [("x", "a b"), ("x", "e f"), ("y", "c d")]
    assert calls == [(("toxigen/toxigen-data", "annotated"), {"split": "test"})]
    with pytest.raises(FactoryError, match="no column 'prompt'"):
        load_prompts(settings.model_copy(update={"text_field": "prompt"}), seed=0)
