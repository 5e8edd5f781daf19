"""DPO of encoder-decoder models (factory/crossft/seq2seq_dpo.py; Breaking mBad's 10_DPO_mt5.py, gap B6):
the loss is TRL's sigmoid DPO loss, it starts at ln 2, training widens the chosen-rejected margin, a run
resumes from its checkpoint, and the recipe accepts seq2seq + dpo."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from factory.core.errors import FactoryError
from factory.crossft import formats
from factory.crossft.seq2seq_dpo import (LABEL_PAD, PreferenceCollator, encode_preferences, sigmoid_dpo_loss,
                                         target_logps)
from factory.crossft.training import LoraSpec, RunSpec, _trainer, load_base, require_precision, train_adapter
from factory.recipe import Recipe

REPO = Path(__file__).resolve().parent.parent
PAIRS = [(f"you stupid idiot number {i} shut up", f"please be quiet number {i}") for i in range(8)]
EXAMPLES = formats.dpo_examples(PAIRS, "detoxify: {toxic}")


@pytest.fixture(scope="module")
def mini_mt5(tmp_path_factory) -> Path:
    """The miniature google/mt5-large of the hub simulator: gated-gelu FFN, SentencePiece, random weights."""
    from factory.hubsim.minimodels import build_model

    folder = tmp_path_factory.mktemp("mt5") / "mt5"
    build_model("google/mt5-large", folder, [side for pair in PAIRS for side in pair] * 20)
    return folder


def _spec(epochs: float = 2, learning_rate: float = 5e-3) -> RunSpec:
    return RunSpec("seq2seq-dpo", epochs, learning_rate, 4, 1, 64,
                   LoraSpec(4, 8, 0.05, ["q", "k", "v", "o", "wi", "wo"]), seed=3)


def test_the_loss_is_the_sigmoid_dpo_formula_on_hand_made_logps():
    policy_chosen, policy_rejected = torch.tensor([-3.0, -10.0]), torch.tensor([-5.0, -2.0])
    ref_chosen, ref_rejected = torch.tensor([-4.0, -9.0]), torch.tensor([-4.5, -2.5])
    losses, chosen, rejected = sigmoid_dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, 0.1)
    # pair 1: beta * ((-3 + 4) - (-5 + 4.5)) = 0.15; pair 2: beta * ((-10 + 9) - (-2 + 2.5)) = -0.15
    assert losses.tolist() == pytest.approx([math.log1p(math.exp(-0.15)), math.log1p(math.exp(0.15))])
    assert chosen.tolist() == pytest.approx([0.1, -0.1]) and rejected.tolist() == pytest.approx([-0.05, 0.05])
    same = torch.tensor([-7.0, -1.0])
    assert sigmoid_dpo_loss(same, same - 3, same, same - 3, 0.1)[0].tolist() == pytest.approx([math.log(2)] * 2)


def test_target_logps_sum_the_label_tokens_and_skip_pads():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6)
    labels = torch.tensor([[1, 2, LABEL_PAD, LABEL_PAD], [0, 3, 4, 5]])
    logps = torch.log_softmax(logits, dim=-1)
    expected = [logps[0, 0, 1] + logps[0, 1, 2], sum(logps[1, i, t] for i, t in enumerate([0, 3, 4, 5]))]
    assert target_logps(logits, labels).tolist() == pytest.approx([float(e) for e in expected], abs=1e-5)


def test_the_collator_pads_prompts_with_pad_and_both_answers_to_one_width():
    batch = PreferenceCollator(pad_token_id=0)([
        {"prompt_input_ids": [5, 6, 1], "chosen_labels": [7, 1], "rejected_labels": [8, 9, 9, 1]},
        {"prompt_input_ids": [5, 1], "chosen_labels": [7, 7, 7, 7, 1], "rejected_labels": [1]}])
    assert batch["prompt_input_ids"].tolist() == [[5, 6, 1], [5, 1, 0]]
    assert batch["prompt_attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["chosen_labels"].tolist() == [[7, 1, -100, -100, -100], [7, 7, 7, 7, 1]]
    assert batch["rejected_labels"].tolist() == [[8, 9, 9, 1, -100], [1, -100, -100, -100, -100]]


def _margins(trainer) -> torch.Tensor:
    """Per training pair: (pi_c - ref_c) - (pi_r - ref_r) of the trainer's model."""
    rows = encode_preferences(EXAMPLES, trainer.processing_class, 64)
    batch = PreferenceCollator(trainer.processing_class.pad_token_id)(rows)
    with torch.no_grad():
        policy_chosen, policy_rejected = trainer.pair_logps(trainer.model, batch)
        ref_chosen, ref_rejected = trainer.reference_logps(trainer.model, batch)
    return (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)


def test_first_step_loss_is_ln2_and_training_widens_the_margin(mini_mt5, tmp_path):
    model, tokenizer = load_base(str(mini_mt5), None, "seq2seq")
    trainer = _trainer(_spec(epochs=3), model, tokenizer, EXAMPLES, tmp_path / "checkpoints")
    assert tokenizer(text_target="quiet")["input_ids"][-1] == tokenizer.eos_token_id  # answers end with </s>
    trainer.model.train()  # as in training: dropout (mT5's 0.1, LoRA's 0.05) must be off, or policy != reference
    first = trainer.compute_loss(trainer.model, next(iter(trainer.get_train_dataloader())))
    assert abs(first.item() - math.log(2)) < 1e-6  # LoRA B starts at 0: policy == reference
    before = _margins(trainer)
    assert before.abs().max().item() < 1e-3
    trainer.train()
    after = _margins(trainer)
    assert after.mean().item() > 1.0 and (after > 0).all()
    logged = [entry for entry in trainer.state.log_history if "rewards/margins" in entry]
    assert logged and {"rewards/chosen", "rewards/rejected", "rewards/accuracies"} <= set(logged[0])


class _StopAfterFirstEpoch(TrainerCallback):
    """Interrupts the run after its first epoch (whose checkpoint is saved)."""

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_training_stop = True
        return control


def _adapter(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "adapter_model.safetensors")


def test_an_interrupted_run_resumes_to_the_uninterrupted_adapter(mini_mt5, tmp_path):
    spec = _spec(epochs=2, learning_rate=1e-3)
    whole = train_adapter(spec, str(mini_mt5), None, EXAMPLES, tmp_path / "whole", tmp_path / "whole-out")
    model, tokenizer = load_base(str(mini_mt5), None, "seq2seq")
    interrupted = _trainer(spec, model, tokenizer, EXAMPLES, tmp_path / "split")
    interrupted.add_callback(_StopAfterFirstEpoch())
    assert interrupted.train().global_step == whole["steps"] // 2
    resumed = train_adapter(spec, str(mini_mt5), None, EXAMPLES, tmp_path / "split", tmp_path / "split-out")
    assert resumed["resumed_from"] == f"checkpoint-{whole['steps'] // 2}" and resumed["steps"] == whole["steps"]
    first, second = _adapter(tmp_path / "whole-out"), _adapter(tmp_path / "split-out")
    assert first.keys() == second.keys() and any("lora_B" in name for name in first)
    assert all(torch.allclose(first[name], second[name], atol=1e-6) for name in first)


def _recipe(**crosslingual) -> dict:
    section = {"model": "google/mt5-small", "toxicity": "package:profanity-check", **crosslingual}
    return {"name": "x", "kind": "crosslingual", "crosslingual": section}


def test_seq2seq_recipes_train_dpo_with_their_own_prompt_targets_and_schedule():
    from factory.kinds.crosslingual.train_step import examples_for, run_spec

    recipe = Recipe.model_validate(_recipe(architecture="seq2seq", methods=["sft", "dpo"], lora={"target_modules": [
        "q", "v"]}, dpo={"prompt": "detoxify: {toxic}", "target_modules": ["q", "k"], "scheduler": "linear"}))
    spec = run_spec(recipe, "dpo", 1.0)
    assert (spec.method, spec.lora.target_modules, spec.scheduler) == ("seq2seq-dpo", ["q", "k"], "linear")
    assert run_spec(recipe, "sft", 1.0).lora.target_modules == ["q", "v"]
    assert examples_for(spec.method, {"de": [("du idiot", "du irrst")]}, recipe.crosslingual.dpo.prompt) == [
        {"prompt": "detoxify: du idiot", "chosen": "du irrst", "rejected": "du idiot"}]


def test_causal_dpo_keeps_its_prompt_and_run_fingerprint():
    from factory.kinds.crosslingual.train_step import examples_for, run_spec

    recipe = Recipe.model_validate(_recipe(model="gpt2"))
    spec = run_spec(recipe, "dpo", 1.0)
    assert spec.method == "dpo" and "fp16" not in repr(spec) and "optimizer" not in repr(spec)
    assert examples_for("dpo", {"en": [("{x} idiot", "fine")]}, recipe.crosslingual.dpo.prompt)[0]["prompt"] == (
        "Rewrite the following text in a neutral way: {x} idiot")
    assert recipe.crosslingual.dpo.prompt == formats.DPO_PROMPT


@pytest.mark.parametrize("prompt, message", [("detoxify: {text}", "unknown or malformed placeholder 'text'"),
                                             ("detoxify:", "must contain {toxic}")])
def test_a_dpo_prompt_without_its_placeholder_is_refused(prompt, message):
    with pytest.raises(ValueError, match=message):
        Recipe.model_validate(_recipe(dpo={"prompt": prompt}))


def test_fp16_or_a_paged_optimizer_without_cuda_is_one_clear_line():
    if torch.cuda.is_available():
        pytest.skip("CPU-only behaviour")
    for spec, expected in [(RunSpec("dpo", 1, 1e-4, 1, 1, 8, LoraSpec(), fp16=True), "fp16 mixed precision needs"),
                           (RunSpec("dpo", 1, 1e-4, 1, 1, 8, LoraSpec(), optimizer="paged_adamw_32bit"),
                            "optimizer paged_adamw_32bit needs bitsandbytes and a CUDA GPU")]:
        with pytest.raises(FactoryError) as caught:
            require_precision(spec, "out/dpo-all-100")
        assert str(caught.value).startswith(f"out/dpo-all-100: {expected}") and "\n" not in str(caught.value)


def test_the_full_mt5_recipe_passes_check_with_dpo():
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "factory", "check", "recipes/full/crosslingual-mt5-large.yaml"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from factory.kinds.crosslingual.train_step import run_spec
    from factory.recipe.loader import load_recipe

    spec = run_spec(load_recipe(REPO / "recipes" / "full" / "crosslingual-mt5-large.yaml"), "dpo", 1.0)
    assert (spec.method, spec.epochs, spec.batch_size, spec.grad_accumulation, spec.scheduler) == (
        "seq2seq-dpo", 5.0, 8, 8, "linear")
    assert (spec.fp16, spec.optimizer, spec.quantization, spec.max_length) == (True, "paged_adamw_32bit", "none", 512)
    assert spec.lora.target_modules == ["q", "k", "v", "o", "wi", "wo"]


def test_the_rehearsal_copy_of_the_mt5_recipe_trains_dpo_without_fp16_or_paged_adamw_on_cpu(tmp_path):
    import yaml

    from factory.hubsim import rehearse

    copy, skipped = rehearse.rehearsal_recipe(REPO / "recipes" / "full" / "crosslingual-mt5-large.yaml", tmp_path,
                                              ray=False, perspective_url=None)
    dpo = yaml.safe_load(copy.read_text())["crosslingual"]["dpo"]
    assert (dpo["fp16"], dpo["optimizer"], dpo["prompt"]) == (False, None, "detoxify: {toxic}")
    assert any(s.startswith("crosslingual.dpo.fp16=False (recipe: True): fp16 mixed precision needs CUDA")
               for s in skipped)
    assert any(s.startswith("crosslingual.dpo.optimizer=None (recipe: 'paged_adamw_32bit')") for s in skipped)
