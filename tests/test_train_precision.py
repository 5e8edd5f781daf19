"""Full fine-tuning of fp16 checkpoints (OPT-6.7B, Llama-2-7B are fp16 on the Hub): float32 master weights.

Plain AdamW on fp16 weights turns the model into NaN after one step (eps 1e-8 is 0 in fp16);
the causal-LM trainer keeps the trained weights in float32 (`lm_train.precision`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend_helpers import build_tiny_chat_lm
from factory.recipe.base import ModelSpec
from factory.recipe.lm import CausalFineTune

TEXTS = ["this is a perfectly polite sentence about the weather.", "please rewrite the following text."] * 4


@pytest.fixture(scope="module")
def fp16_lm(tmp_path_factory) -> Path:
    """A tiny random GPT-2 saved in float16 (~200 KB), as fp16 Hub checkpoints are."""
    from transformers import AutoModelForCausalLM

    folder = build_tiny_chat_lm(tmp_path_factory.mktemp("fp16") / "lm")
    AutoModelForCausalLM.from_pretrained(folder).half().save_pretrained(folder)
    return folder


@pytest.mark.parametrize("precision", [{}, {"precision": "bf16-autocast"}], ids=["default-fp32", "bf16-autocast"])
def test_full_fine_tune_of_an_fp16_checkpoint_stays_finite_and_learns(fp16_lm, tmp_path, precision):
    from transformers import AutoModelForCausalLM

    from factory.train.causal import fine_tune

    before = AutoModelForCausalLM.from_pretrained(fp16_lm, dtype="auto")
    assert before.dtype == torch.float16
    settings = CausalFineTune.model_validate({"max_steps": 4, "batch_size": 4, "learning_rate": 1e-3,
                                              "max_length": 32, **precision})
    model, _, log = fine_tune(ModelSpec(ref=str(fp16_lm)), TEXTS, settings, root=tmp_path, seed=0,
                              checkpoints=tmp_path / "ckpt")
    assert len(log.losses) == 4 and all(torch.isfinite(torch.tensor(log.losses)))
    assert log.losses[-1] < log.losses[0]
    assert model.dtype == torch.float16, "a full fine-tune is handed back in the checkpoint's dtype"
    weights = dict(model.named_parameters())
    assert all(torch.isfinite(p).all() for p in weights.values())
    changed = [n for n, p in before.named_parameters() if not torch.equal(p, weights[n].detach())]
    assert len(changed) == len(weights), "every weight moved"
