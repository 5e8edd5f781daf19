"""The crosslingual seq2seq LoRA run initialises its adapters from the run's seed.

peft draws lora_A from torch's global generator; the seq2seq path wraps the model itself,
before the Trainer seeds torch (TRL's SFT/DPO trainers seed before wrapping), so two
processes used to start from different adapters.
"""

from __future__ import annotations

import torch

from factory.crossft.training import LoraSpec, RunSpec, _trainer

EXAMPLES = [{"source": "you are an idiot", "target": "you are wrong"}] * 4


def adapters_at_start(zoo_dir, tmp_path, global_seed: int) -> dict[str, torch.Tensor]:
    """The LoRA weights the seq2seq trainer starts from, after seeding the global RNG with `global_seed`."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = AutoModelForSeq2SeqLM.from_pretrained(zoo_dir / "seq2seq")
    tokenizer = AutoTokenizer.from_pretrained(zoo_dir / "seq2seq")
    spec = RunSpec(method="seq2seq", epochs=1, learning_rate=1e-3, batch_size=2, grad_accumulation=1, max_length=16,
                   lora=LoraSpec(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"]), seed=7)
    torch.manual_seed(global_seed)
    trainer = _trainer(spec, model, tokenizer, EXAMPLES, tmp_path / f"ckpt-{global_seed}")
    return {name: p.detach().clone() for name, p in trainer.model.named_parameters() if "lora_A" in name}


def test_seq2seq_adapters_start_from_the_run_seed_not_the_global_rng(zoo_dir, tmp_path):
    first, second = adapters_at_start(zoo_dir, tmp_path, 1), adapters_at_start(zoo_dir, tmp_path, 2)
    assert first and first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
