"""Causal-LM training and LM evaluation on a tiny random GPT-2: pad masking, LoRA, perplexity."""

from __future__ import annotations

import pytest
import torch

from backend_helpers import build_tiny_chat_lm
from factory.recipe.base import ModelSpec
from factory.recipe.lm import CausalFineTune


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return build_tiny_chat_lm(tmp_path_factory.mktemp("lm") / "tiny", seed=3)


def _tokenizer(folder, pad_is_eos: bool = False):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if pad_is_eos:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def test_collate_masks_padding_not_a_real_eos_that_shares_the_pad_id(tiny_lm):
    from factory.train.causal import make_collate

    tokenizer = _tokenizer(tiny_lm, pad_is_eos=True)
    eos = tokenizer.eos_token
    batch = make_collate(tokenizer, ["the meeting was moved" + eos, "sorry"], max_length=32)([0, 1])
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert (ids[:, 0] == tokenizer.bos_token_id).all()  # BOS prefixed: the tokenizer adds none
    assert (labels[mask == 0] == -100).all() and (labels[mask == 1] == ids[mask == 1]).all()
    real_eos = (ids[0] == tokenizer.eos_token_id) & (mask[0] == 1)
    assert real_eos[1:].any() and (labels[0][real_eos] != -100).all()
    assert (mask[1] == 0).any()  # the short row was padded on the right
    assert mask[1, 0] == 1 and mask[1, -1] == 0


def test_lora_trains_adapters_only_and_loads_back_merged(tiny_lm, tmp_path):
    from factory.evaluate.lm import load_trained
    from factory.train.causal import fine_tune, save_model

    settings = CausalFineTune(method="lora", max_steps=6, batch_size=2, learning_rate=0.01, max_length=32,
                              save_every=100, lora={"r": 4, "alpha": 8, "dropout": 0.0})
    spec = ModelSpec(ref=str(tiny_lm))
    texts = ["this is a perfectly polite sentence about the weather."] * 4
    model, tokenizer, log = fine_tune(spec, texts, settings, root=tmp_path, seed=0, checkpoints=tmp_path / "ckpt")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert log.steps == 6 and log.losses[-1] < log.losses[0]
    save_model(model, tokenizer, tmp_path / "out", {"steps": log.steps})
    assert (tmp_path / "out" / "adapter_config.json").exists()
    loaded, _ = load_trained(tmp_path / "out", spec, tmp_path)
    ids = tokenizer(["the weather"], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(ids).logits, model.eval()(input_ids=ids).logits, atol=1e-5, rtol=1e-5)


def test_conditional_nll_equals_full_minus_prompt_loss(tiny_lm):
    from transformers import AutoModelForCausalLM

    from factory.evaluate.lm import conditional_nll

    model = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    tokenizer = _tokenizer(tiny_lm)
    tokenizer.padding_side = "right"
    pairs = [("please rewrite the", " following text"), ("what a", " stupid idea, nobody will ever read this"),
             ("the meeting was", "")]
    sums, counts = conditional_nll(model, tokenizer, pairs, batch_size=2)
    for (prompt, cont), total, count in zip(pairs, sums, counts):
        p = tokenizer(prompt)["input_ids"]
        full = torch.tensor([p + tokenizer(cont, add_special_tokens=False)["input_ids"]])
        with torch.inference_mode():
            whole = model(full, labels=full).loss.item() * (full.shape[1] - 1)
            head = model(torch.tensor([p]), labels=torch.tensor([p])).loss.item() * (len(p) - 1)
        assert count == full.shape[1] - len(p)
        assert total == pytest.approx(whole - head, abs=1e-3)
