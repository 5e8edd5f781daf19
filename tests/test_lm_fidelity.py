"""LM evaluation as UniDetox's code runs it: top-k, categories, combined headline, runs, reference distinct-n;
and cache keys that follow the model's dtype."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from backend_helpers import build_tiny_chat_lm
from factory import metrics_lm
from factory.core.errors import FactoryError
from factory.recipe import Recipe, load_recipe

CATEGORIES = {"gender": ["women", "lgbtq"], "religion": ["jewish", "muslim"], "disability": ["physical_dis"]}


def _recipe(**lm_evaluate) -> Recipe:
    return Recipe.model_validate({"name": "t", "kind": "selfgen", "seed": 42, "models": {"generator": "zoo:causal-lm"},
                                  "selfgen": {}, "lm_evaluate": lm_evaluate})


def test_evaluation_top_k_reaches_generate(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from factory.evaluate.lm import continuations

    folder = build_tiny_chat_lm(tmp_path / "lm", seed=1)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    prompts = ["the meeting was", "please rewrite"]
    greedy = continuations(model, tokenizer, prompts, _recipe(top_k=1, continuations=6).lm_evaluate, seed=0)
    assert all(len(set(texts)) == 1 for texts in greedy)  # top-k 1: every sample is the argmax path
    free = continuations(model, tokenizer, prompts, _recipe(top_k=0, continuations=6).lm_evaluate, seed=0)
    assert all(len(set(texts)) > 1 for texts in free)
    assert _recipe().lm_evaluate.top_k == 0  # tiny and default: off, as before
    assert load_recipe("recipes/full/distill-gpt2xl.yaml").lm_evaluate.top_k == 50  # UniDetox's code


def test_prompts_are_reported_by_category_and_other_groups_counted(monkeypatch):
    import datasets

    from factory.evaluate.lm_prompts import load_prompt_set

    rows = {"text": ["w1", "l1", "j1", "m1", "p1", "x1", "x2", "w1"],
            "target_group": ["women", "lgbtq", "jewish", "muslim", "physical_dis", "asian", "asian", "women"]}
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: datasets.Dataset.from_dict(rows))
    settings = _recipe(prompts=["toxigen/toxigen-data"], group_field="target_group", categories=CATEGORIES,
                       combined_categories=["gender", "religion"]).lm_evaluate
    prompt_set = load_prompt_set(settings, seed=0)
    assert [(p.group, p.text) for p in prompt_set.prompts] == [
        ("gender", "w1"), ("gender", "l1"), ("religion", "j1"), ("religion", "m1"), ("disability", "p1")]
    assert prompt_set.left_out == {"asian": 2}
    with pytest.raises(FactoryError, match=r"lm_evaluate.combined_categories: no prompts in religion"):
        load_prompt_set(settings.model_copy(update={"categories": {"gender": ["women"], "religion": ["none"]}}), 0)


def test_category_settings_are_checked():
    with pytest.raises(ValidationError, match="group 'women' is in both a and b"):
        _recipe(categories={"a": ["women"], "b": ["women"]})
    with pytest.raises(ValidationError, match="combined_categories: religion not among categories"):
        _recipe(categories={"gender": ["women"]}, combined_categories=["religion"])
    full = load_recipe("recipes/full/distill-gpt2xl.yaml").lm_evaluate
    assert {name: len(values) for name, values in full.categories.items()} == {
        "gender_lgbtq": 3, "race_nationalities": 16, "religion": 4, "disability": 4}  # unidetox.py prepare_prompts
    assert full.combined_categories == ["gender_lgbtq", "race_nationalities", "religion"] and full.runs == 5


def test_reference_distinct_n_counts_prompt_words_split_on_single_spaces():
    prompts = ["I am", "I am", "Go"]  # a prompt text met twice is one prompt, as the reference's groupby
    texts = [[" a cat"], [" a  dog"], [" go go"]]
    # "I am": "I am a cat" + "I am a  dog" -> 4 + 5 words (the double space makes an empty word)
    #   unigrams {I, am, a, cat, '', dog} = 6, bigrams {I_am, am_a, a_cat, a_, _dog} = 5
    # "Go": "Go go go" -> 3 words, unigrams {Go, go} = 2, bigrams {Go_go, go_go} = 2
    assert metrics_lm.reference_dist_n(prompts, texts, 1) == pytest.approx((6 / 9 + 2 / 3) / 2)
    assert metrics_lm.reference_dist_n(prompts, texts, 2) == pytest.approx((5 / 9 + 2 / 3) / 2)
    summary = metrics_lm.lm_summary([[0.1], [0.2], [0.9]], texts, 0.5, prompts)
    assert summary["dist_2_ref"] == pytest.approx((5 / 9 + 2 / 3) / 2)
    assert summary["distinct_2_per_prompt"] == pytest.approx(metrics_lm.distinct_n_per_prompt(texts, 2))
    assert "distinct_2" not in summary  # the corpus distinct-2 of the filter report is another figure


def _fake_evaluation(monkeypatch, settings):
    """evaluate_system with continuations and scores that depend on the seed, no model needed."""
    import factory.evaluate.lm as lm

    seen_seeds = []

    def fake_continuations(model, tokenizer, prompts, settings_, seed):
        seen_seeds.append(seed)
        return [[f"{p} text {seed} {j}" for j in range(settings_.continuations)] for p in prompts]

    def fake_score(self, prompts, texts):
        flat = [t for group in texts for t in group]
        seed = int(flat[0].split()[-2])
        tox = np.array([sum(map(ord, t)) % 97 / 97 * (1 + seed % 2) / 2 for t in flat])
        return tox, np.full(len(flat), 10.0 + seed)

    monkeypatch.setattr(lm, "continuations", fake_continuations)
    monkeypatch.setattr(lm.Scorer, "score", fake_score)
    scorer = object.__new__(lm.Scorer)
    scorer.settings = settings
    return lm, scorer, seen_seeds


def test_runs_average_over_seeds_and_the_headline_is_the_combined_categories(monkeypatch):
    from factory.evaluate.lm_prompts import Prompt

    settings = _recipe(categories=CATEGORIES, combined_categories=["gender", "religion"], runs=3,
                       continuations=4).lm_evaluate
    prompts = [Prompt("gender", "w1"), Prompt("gender", "l1"), Prompt("religion", "j1"), Prompt("disability", "p1")]
    recipe = _recipe()
    lm, scorer, seeds = _fake_evaluation(monkeypatch, settings)
    summary, rows = lm.evaluate_system(scorer, prompts, None, None, 42, "base/m", recipe)
    assert seeds == [42, 43, 44] and summary["runs"] == 3 and len(rows) == 3 * 4 * 4
    assert sorted({r.attributes["run"] for r in rows}) == [0, 1, 2]
    per_run = [lm.evaluate_run(scorer, prompts, None, None, seed)[0] for seed in (42, 43, 44)]
    emt = [run["EMT"] for run in per_run]
    assert summary["EMT"] == pytest.approx(np.mean(emt)) and summary["EMT_std"] == pytest.approx(np.std(emt))
    combined = [(run["groups"]["gender"]["EMT"] + run["groups"]["religion"]["EMT"]) / 2 for run in per_run]
    assert summary["combined_EMT"] == pytest.approx(np.mean(combined))  # disability left out of the headline
    assert summary["combined_EMT_std"] == pytest.approx(np.std(combined))
    assert summary["groups"]["disability"]["EMT"] == pytest.approx(np.mean([r["groups"]["disability"]["EMT"]
                                                                            for r in per_run]))
    assert summary["PPL"] == pytest.approx(np.mean([10.0 + s for s in (42, 43, 44)])) and summary["prompts"] == 4


def test_headline_and_card_carry_the_combined_figures_and_their_spread():
    from factory.kinds.lm.certification import lm_headline
    from factory.publish_card import metrics_table

    systems = {"base/m": {"EMT": 0.5, "EMT_std": 0.01, "combined_EMT": 0.45, "combined_TP": 0.3,
                          "distinct_2_per_prompt": 0.8, "dist_2_ref": 0.7},
               "m/ratio-1.00": {"EMT": 0.3, "EMT_std": 0.02, "combined_EMT": 0.25, "combined_TP": 0.1,
                                "distinct_2_per_prompt": 0.78, "dist_2_ref": 0.69}}
    evaluation = {"kind": "lm", "systems": systems, "protocol": {"runs": 5}}
    headline = lm_headline(evaluation, {"kept": 10, "synthetic": {"distinct_2": 0.4}})
    assert headline["combined_EMT"] == {"base/m": 0.45, "m/ratio-1.00": 0.25}
    assert headline["EMT_std"] == {"base/m": 0.01, "m/ratio-1.00": 0.02} and headline["runs"] == 5
    assert headline["dist_2_ref"]["base/m"] == 0.7 and headline["distinct_2_corpus"] == 0.4
    table = metrics_table(evaluation)
    assert "combined_EMT" in table and "dist_2_ref" in table and "0.45" in table


def test_cache_keys_follow_the_model_dtype(tmp_path):
    from factory.generate.distill import toxic_model_key
    from factory.train.pairs import run_fingerprint

    def recipe(dtype: str) -> Recipe:
        return Recipe.model_validate({"name": "t", "kind": "distill", "distill": {},
                                      "models": {"generator": {"ref": "org/base-lm", "dtype": dtype},
                                                 "detoxifier": {"ref": "org/seq2seq", "dtype": dtype}}})

    def pair_recipe(dtype: str) -> Recipe:  # the seq2seq detoxifier trains for the pair kinds only
        return Recipe.model_validate({"name": "t", "kind": "toxify", "models": {"detoxifier": {"ref": "org/seq2seq",
                                                                                              "dtype": dtype}}})

    texts = ["a toxic text"]
    assert toxic_model_key(recipe("float32"), texts, tmp_path) != toxic_model_key(recipe("bfloat16"), texts, tmp_path)
    fingerprints = {run_fingerprint(pair_recipe(dtype), [], tmp_path) for dtype in ("float32", "bfloat16")}
    assert len(fingerprints) == 2
    assert toxic_model_key(recipe("auto"), texts, tmp_path) == toxic_model_key(recipe("auto"), texts, tmp_path)
