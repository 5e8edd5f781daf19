"""LoRA fine-tuning is reproducible: the same texts and seed give the same adapters and losses.

peft draws the adapters' initial weights from torch's global generator, which a fresh process
seeds at random; the trainer must initialise them from the recipe seed. Each training below
starts from a different global RNG state, as separate processes would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from backend_helpers import build_tiny_chat_lm
from factory.recipe.base import ModelSpec
from factory.recipe.lm import CausalFineTune

TEXTS = [f"sentence number {i} is about the weather and the sea." for i in range(12)]
SETTINGS = {"method": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.1}, "max_steps": 4, "batch_size": 4,
            "learning_rate": 1e-2, "max_length": 32, "save_every": 2}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A tiny random GPT-2 (~200 KB)."""
    return build_tiny_chat_lm(tmp_path_factory.mktemp("determ") / "lm")


def lora_run(lm: Path, checkpoints: Path, global_seed: int) -> tuple[dict[str, torch.Tensor], list[float]]:
    """(adapter weights, losses) of one LoRA fine-tune, started from global RNG state `global_seed`."""
    from factory.train.causal import fine_tune

    torch.manual_seed(global_seed)
    model, _, log = fine_tune(ModelSpec(ref=str(lm)), TEXTS, CausalFineTune.model_validate(SETTINGS),
                              root=checkpoints.parent, seed=13, checkpoints=checkpoints)
    adapters = {name: p.detach().clone() for name, p in model.named_parameters() if "lora_" in name}
    assert adapters, "the model has LoRA adapters"
    return adapters, log.losses


def assert_same(first: tuple[dict[str, torch.Tensor], list[float]],
                second: tuple[dict[str, torch.Tensor], list[float]]) -> None:
    """Byte-equal losses and adapter weights."""
    assert first[1] == second[1]
    assert first[0].keys() == second[0].keys()
    differing = [name for name in first[0] if not torch.equal(first[0][name], second[0][name])]
    assert not differing, f"adapters differ between identical runs: {differing[:3]}"


def test_two_lora_trainings_give_identical_adapters_and_losses(tiny_lm, tmp_path):
    assert_same(lora_run(tiny_lm, tmp_path / "a" / "ckpt", global_seed=1),
                lora_run(tiny_lm, tmp_path / "b" / "ckpt", global_seed=2))


def test_a_resumed_lora_training_equals_an_uninterrupted_one(tiny_lm, tmp_path, monkeypatch):
    from factory.train import causal

    uninterrupted = lora_run(tiny_lm, tmp_path / "a" / "ckpt", global_seed=1)
    real_batches = causal.batches

    def batches_failing_at_step_3(*args, **kwargs):
        collate, examples = real_batches(*args, **kwargs)
        calls = []

        def collate_or_fail(indices):
            calls.append(indices)
            if len(calls) == 3:
                raise KeyboardInterrupt("interrupted after the step-2 checkpoint")
            return collate(indices)

        return collate_or_fail, examples

    monkeypatch.setattr(causal, "batches", batches_failing_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        lora_run(tiny_lm, tmp_path / "b" / "ckpt", global_seed=2)
    assert [p.name for p in (tmp_path / "b" / "ckpt").glob("step-*.pt")] == ["step-2.pt"]
    monkeypatch.setattr(causal, "batches", real_batches)
    resumed = lora_run(tiny_lm, tmp_path / "b" / "ckpt", global_seed=3)
    assert_same(uninterrupted, resumed)


def test_lora_checkpoints_of_unseeded_runs_are_never_reused(tmp_path, monkeypatch):
    """The run id of a LoRA fine-tune carries the seeded-init marker, so a checkpoint folder written before the
    adapters were seeded (same settings, target, seed and texts) is a different folder."""
    from factory.core.records import content_id
    from factory.recipe import load_recipe
    from factory.train import causal

    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "tiny" / "selfgen.yaml")
    assert recipe.lm_train.method == "lora"
    monkeypatch.setattr(causal, "describe", lambda target, root: {"ref": target.ref})
    target = recipe.models.generator
    folder = causal.checkpoint_folder(recipe, target, "ratio-1.00", TEXTS, tmp_path)
    unseeded = content_id(recipe.lm_train.model_dump_json(), '{"ref": "%s"}' % target.ref, str(recipe.seed), *TEXTS)
    assert folder.name.endswith(causal.content_id(recipe.lm_train.model_dump_json(), '{"ref": "%s"}' % target.ref,
                                                  str(recipe.seed), causal.LORA_INIT, *TEXTS))
    assert not folder.name.endswith(unseeded)
