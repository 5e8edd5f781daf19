"""The Trainer arguments of a crosslingual run: precision as the reference set it, never TRL's bf16 default."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.crossft import training
from factory.crossft.training import LoraSpec, RunSpec


def _spec(**changes) -> RunSpec:
    return RunSpec("dpo", 1.0, 1e-4, 8, 16, 256, LoraSpec(), **changes)


@pytest.mark.parametrize("gpu", [False, True])
def test_no_mixed_precision_unless_asked(monkeypatch, gpu):
    monkeypatch.setattr("torch.cuda.is_available", lambda: gpu)
    args = training._common_args(_spec(), Path("ckpt"))
    assert args["bf16"] is False and args["fp16"] is False  # 10_DPO_aya_8.py: fp16 weights, no autocast
    assert args["gradient_checkpointing"] is False and args["dataloader_drop_last"] is False
    assert "optim" not in args and args["use_cpu"] is (not gpu)


def test_reference_switches_reach_the_trainer(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    args = training._common_args(_spec(gradient_checkpointing=True, drop_last_batch=True), Path("ckpt"))
    assert args["gradient_checkpointing"] is True and args["dataloader_drop_last"] is True
    qlora = training._common_args(_spec(quantization="nf4"), Path("ckpt"))
    assert qlora["fp16"] is True and qlora["bf16"] is False and qlora["optim"] == "paged_adamw_32bit"
    mixed = training._common_args(_spec(fp16=True, optimizer="paged_adamw_32bit"), Path("ckpt"))
    assert mixed["fp16"] is True and mixed["optim"] == "paged_adamw_32bit"


def test_new_switches_at_their_defaults_keep_earlier_checkpoints():
    """The checkpoint folder is named by a hash of the spec's repr: fields added later are left out at their
    defaults, so a run that does not set them resumes from the checkpoints it had."""
    assert "gradient_checkpointing" not in repr(_spec()) and "drop_last_batch" not in repr(_spec())
    assert "drop_last_batch=True" in repr(_spec(drop_last_batch=True))
