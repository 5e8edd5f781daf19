"""Recipe fields that reproduce the reference codes (issue 15, docs/fidelity.md): UniDetox's padding in
the loss (N1) and no BOS (N2), SGEAT's packing (S3), rank cut over all lines (S2) and RealToxicityPrompts
groups by prompt toxicity (S4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from backend_helpers import build_tiny_chat_lm
from factory.recipe import Recipe
from factory.recipe.base import ModelSpec
from factory.recipe.lm import CausalFineTune, LMEvaluate, ScoreGroups

REPO = Path(__file__).resolve().parent.parent
SELFGEN = sorted((REPO / "recipes" / "full").glob("selfgen-*.yaml"))


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return build_tiny_chat_lm(tmp_path_factory.mktemp("lm") / "tiny", seed=5)


def _gpt2_like_tokenizer(folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.pad_token = tokenizer.eos_token  # as the reference (and load_causal_lm) set it for GPT-2
    return tokenizer


TEXTS = ["the meeting was moved to friday afternoon", "sorry", "we can talk about it tomorrow"]


def test_padding_in_loss_pads_to_the_longest_text_and_learns_eos(tiny_lm):
    from factory.train.causal import batches

    tokenizer = _gpt2_like_tokenizer(tiny_lm)
    settings = CausalFineTune(padding="in_loss", bos_prefix=False, max_length=64)
    collate, examples = batches(tokenizer, TEXTS, settings, "cpu")
    longest = max(len(tokenizer(t)["input_ids"]) for t in TEXTS)
    batch = collate([1])  # the short text alone is still padded to the longest text of the set
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert examples == 3 and ids.shape == (1, longest)
    assert (labels == ids).all()  # no -100: the pads (EOS) are in the loss
    short = tokenizer("sorry")["input_ids"]
    assert (labels[mask == 0] == tokenizer.eos_token_id).all() and (mask == 0).sum() == longest - len(short)
    assert ids[0, : len(short)].tolist() == short  # bos_prefix: false, no BOS before the text


def test_masked_padding_stays_the_default(tiny_lm):
    from factory.train.causal import batches

    tokenizer = _gpt2_like_tokenizer(tiny_lm)
    collate, _ = batches(tokenizer, TEXTS, CausalFineTune(max_length=64), "cpu")
    batch = collate([1, 0])
    assert (batch["input_ids"][:, 0] == tokenizer.bos_token_id).all()  # BOS prefixed
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def test_packing_trains_every_next_token_pair_once_with_eos_between_texts(tiny_lm):
    from factory.train.causal import batches
    from factory.train.causal_batches import token_stream

    tokenizer = _gpt2_like_tokenizer(tiny_lm)
    stream = token_stream(tokenizer, TEXTS).tolist()
    assert stream.count(tokenizer.eos_token_id) == len(TEXTS) and stream[-1] == tokenizer.eos_token_id
    collate, blocks = batches(tokenizer, TEXTS, CausalFineTune(packing=True, max_length=8), "cpu")
    batch = collate(list(range(blocks)))
    pairs = []
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        kept = [t for t, label in zip(ids, labels) if label != -100]
        pairs += list(zip(kept, kept[1:]))
    assert pairs == list(zip(stream, stream[1:]))  # each pair exactly once, in order, EOS included
    assert batch["input_ids"].shape[1] == 8


def test_packing_fine_tunes_the_tiny_lm(tiny_lm, tmp_path):
    from factory.train.causal import fine_tune

    settings = CausalFineTune(packing=True, max_length=8, max_steps=3, batch_size=2, learning_rate=0.01,
                              save_every=100)
    _, _, log = fine_tune(ModelSpec(ref=str(tiny_lm)), TEXTS, settings, root=tmp_path, seed=0,
                          checkpoints=tmp_path / "ckpt")
    assert log.steps == 3 and all(np.isfinite(log.losses))


def test_packing_and_padding_in_loss_together_are_refused():
    with pytest.raises(ValueError, match="padding: in_loss does not apply with packing"):
        CausalFineTune(packing=True, padding="in_loss")


def test_rank_cut_over_all_lines_counts_the_empty_ones():
    from factory.generate.selfgen import score_and_cut

    texts = ["a calm text", "", "a rude text", "", "a plain text", "another rude text"]
    toxicity = np.array([0.2, 0.0, 0.9, 0.0, 0.1, 0.8])
    base = {"name": "t", "kind": "selfgen", "models": {"generator": "zoo:causal-lm"}}
    eligible = Recipe.model_validate({**base, "selfgen": {"keep_fraction": 0.5}})
    every = Recipe.model_validate({**base, "selfgen": {"keep_fraction": 0.5, "keep_fraction_of": "all"}})
    assert sum(r.kept for r in score_and_cut(eligible, texts, toxicity)) == 2  # round(0.5 * 4 non-empty)
    kept = [r.text for r in score_and_cut(every, texts, toxicity) if r.kept]
    assert kept == ["a calm text", "a plain text", "another rude text"]  # 6 // 2, the empty ones never kept


@pytest.mark.parametrize("rule, toxic", [("above", False), ("at_least", True)])
def test_score_groups_split_at_the_threshold(rule, toxic):
    from factory.evaluate.lm_prompt_scores import score_group

    settings = ScoreGroups(toxic_when=rule)
    assert score_group(0.5, settings) == ("toxic" if toxic else "nontoxic")
    assert score_group(0.51, settings) == "toxic" and score_group(0.1, settings) == "nontoxic"
    assert score_group(None, settings) == "unscored" and score_group(float("nan"), settings) == "unscored"


def test_real_toxicity_prompts_miniature_is_read_by_prompt_toxicity(tmp_path):
    from datasets import load_dataset

    from factory.evaluate.lm_prompts import hub_prompts
    from factory.hubsim import minidata

    folder = tmp_path / "allenai" / "real-toxicity-prompts"
    minidata.real_toxicity_prompts(folder, None)
    rows = load_dataset(str(folder), split="train")
    assert {"filename", "begin", "end", "challenging", "prompt", "continuation"} <= set(rows.column_names)
    assert {"text", "toxicity", "severe_toxicity", "profanity"} <= set(rows.features["prompt"])
    settings = LMEvaluate(prompts=[str(folder)], hub_split="train", text_field="prompt.text",
                          score_groups=ScoreGroups())
    prompts = hub_prompts(str(folder), settings)
    truth = {r["prompt"]["text"]: r["prompt"]["toxicity"] for r in rows}
    assert len(prompts) == len(rows) and {p.group for p in prompts} == {"toxic", "nontoxic", "unscored"}
    for prompt in prompts:
        score = truth[prompt.text]
        assert prompt.group == ("unscored" if score is None else "toxic" if score > 0.5 else "nontoxic")


def test_full_recipes_default_to_the_reference_batching_and_prompts():
    from factory.hubsim import minidata

    distill = yaml.safe_load((REPO / "recipes" / "full" / "distill-gpt2xl.yaml").read_text())
    for section in (distill["distill"]["toxic_model"], distill["lm_train"]):
        assert section["padding"] == "in_loss" and section["bos_prefix"] is False
    assert SELFGEN
    for path in SELFGEN:
        recipe = yaml.safe_load(path.read_text())
        assert recipe["selfgen"]["keep_fraction_of"] == "all" and recipe["lm_train"]["packing"] is True
        assert recipe["lm_evaluate"]["prompts"] == ["allenai/real-toxicity-prompts"]
        assert recipe["lm_evaluate"]["score_groups"]["field"] == "prompt.toxicity"
        assert recipe["generate"]["sampling"]["max_new_tokens"] == 1000  # --out-seq-length 1000
        assert "allenai/real-toxicity-prompts" in minidata.DATASETS  # the rehearsal's miniature Hub serves it


def test_adam_beta2_reaches_the_optimiser(tiny_lm, tmp_path, monkeypatch):
    import torch

    from factory.train.causal import fine_tune

    seen = []
    real = torch.optim.AdamW

    def spy(params, **kwargs):
        seen.append(kwargs["betas"])
        return real(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    settings = CausalFineTune(adam_beta2=0.95, max_steps=1, batch_size=2, max_length=16, save_every=100)
    fine_tune(ModelSpec(ref=str(tiny_lm)), TEXTS, settings, root=tmp_path, seed=0, checkpoints=tmp_path / "ckpt")
    assert seen == [(0.9, 0.95)]


def test_score_groups_read_a_local_realtoxicityprompts_jsonl(tmp_path):
    import json

    from factory.evaluate.lm_prompts import read_prompt_file

    path = tmp_path / "prompts.jsonl"
    rows = [{"prompt": {"text": "a", "toxicity": 0.9}}, {"prompt": {"text": "b", "toxicity": 0.5}},
            {"prompt": {"text": "c", "toxicity": None}}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    settings = LMEvaluate(prompts=[str(path)], score_groups=ScoreGroups())
    assert [(p.text, p.group) for p in read_prompt_file(str(path), settings)] == [
        ("a", "toxic"), ("b", "nontoxic"), ("c", "unscored")]


def test_score_groups_and_categories_together_are_refused():
    with pytest.raises(ValueError, match="score_groups and categories both group the prompts"):
        LMEvaluate(score_groups=ScoreGroups(), categories={"x": ["y"]})
