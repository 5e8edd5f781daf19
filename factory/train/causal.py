"""Causal-LM fine-tuning on free text: the detoxifying step of `distill` and `selfgen`.

`fine_tune` trains a causal LM (all weights, or LoRA adapters through peft) with the
shared resumable loop (`factory.train.loop`) on next-token loss; by default padding is on
the right and padded positions are masked out of the loss (label -100, found by the
attention mask, so a real EOS that shares the pad id still counts), and each text is
prefixed with the BOS token when the tokenizer does not add one (`bos_prefix`), so the model
learns p(text | BOS), the distribution the BOS-prompted corpora were sampled from. The
references' own batching (UniDetox: pads in the loss; SGEAT: packing) is in
`factory.train.causal_batches`.

The train stage (`run`) fine-tunes every `lm_train.targets` model on every mix: rows of
kind text give their text, pair rows (human data in mixes below 1.0) their neutral side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from factory.core.errors import FactoryError
from factory.models.loading import default_device, describe, load_causal_lm
from factory.recipe import Recipe
from factory.recipe.base import ModelSpec
from factory.recipe.lm import CausalFineTune, target_name
from factory.core.records import Record, atomic_dir, content_id, read_records, write_json
from factory.train.causal_batches import packed_collate, packed_spans, padded_in_loss_collate, token_stream
from factory.train.loop import TrainLog, train
from factory.train.loss_log import write_train_log
from factory.core.layout import Layout
from factory.core.reports import MixManifest


def with_bos(tokenizer: Any, texts: Sequence[str]) -> list[str]:
    """`texts` prefixed with the BOS token, unless the tokenizer adds one itself."""
    bos = tokenizer.bos_token
    if bos is None or tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]:
        return list(texts)
    return [bos + t for t in texts]


def make_collate(tokenizer: Any, texts: Sequence[str], max_length: int, device: str = "cpu",
                 bos_prefix: bool = True):
    """Collate function: right-padded ids, labels = ids with padded positions set to -100, on `device`."""
    prefixed = with_bos(tokenizer, texts) if bos_prefix else list(texts)

    def collate(indices: Sequence[int]) -> dict[str, Any]:
        tokenizer.padding_side = "right"
        enc = tokenizer([prefixed[i] for i in indices], max_length=max_length, truncation=True, padding=True,
                        return_tensors="pt", add_special_tokens=True)
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
        batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}
        return {key: value.to(device) for key, value in batch.items()}

    return collate


def batches(tokenizer: Any, texts: Sequence[str], settings: CausalFineTune, device: str) -> tuple[Any, int]:
    """(collate function, number of examples) for `settings`: masked padding, padding in the loss, or packing
    (`factory.train.causal_batches`)."""
    if settings.packing:
        stream = token_stream(tokenizer, texts)
        spans = packed_spans(len(stream), settings.max_length)
        if not spans:
            raise FactoryError("lm_train.packing: the training texts hold fewer than two tokens")
        return packed_collate(stream, spans, tokenizer.pad_token_id, device), len(spans)
    if settings.padding == "in_loss":
        prefixed = with_bos(tokenizer, texts) if settings.bos_prefix else list(texts)
        return padded_in_loss_collate(tokenizer, prefixed, settings.max_length, device), len(texts)
    return make_collate(tokenizer, texts, settings.max_length, device, bos_prefix=settings.bos_prefix), len(texts)


def add_lora(model: Any, settings: CausalFineTune, seed: int) -> Any:
    """Wrap `model` with fresh LoRA adapters (only they are trained), initialised from `seed`.

    peft draws the adapters' initial weights (lora_A) from torch's global generator, which a
    fresh process seeds at random: unseeded, two identical runs trained different adapters.
    The draw is made under `seed` in a forked RNG state, so it leaves the caller's stream alone.
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise FactoryError("lm_train.method: lora needs the peft extra (pip install 'detox-factory[peft]')") from error
    import torch

    config = LoraConfig(r=settings.lora.r, lora_alpha=settings.lora.alpha, lora_dropout=settings.lora.dropout,
                        target_modules=settings.lora.target_modules, task_type="CAUSAL_LM")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return get_peft_model(model, config, autocast_adapter_dtype=True)  # adapters in float32 on fp16/bf16 bases


def fine_tune(spec: ModelSpec, texts: Sequence[str], settings: CausalFineTune, *, root: Path, seed: int,
              checkpoints: Path) -> tuple[Any, Any, TrainLog]:
    """Fine-tune a fresh copy of `spec` on `texts`; return (model, tokenizer, log).

    Trained weights are float32 whatever the checkpoint's dtype (`settings.precision`);
    a full fine-tune is cast back to the checkpoint's dtype at the end. With `method:
    lora` the returned model is the peft model (adapters unmerged, in float32).
    """
    model, tokenizer = load_causal_lm(spec, root)
    loaded_dtype = model.dtype
    device = default_device()
    model.to(device)
    if settings.method == "lora":
        model = add_lora(model, settings, seed)
    else:
        model.float()
    collate, examples = batches(tokenizer, texts, settings, device)
    log = train(model, collate, examples, settings.loop_settings(), seed=seed, checkpoints=checkpoints,
                bf16_autocast=settings.precision == "bf16-autocast")
    if settings.method == "full":
        model.to(loaded_dtype)
    tokenizer.padding_side = "left"
    return model, tokenizer, log


def save_model(model: Any, tokenizer: Any, out: Path, info: dict[str, Any], losses: Sequence[float] = ()) -> None:
    """Save model (or LoRA adapters) and tokenizer to `out` atomically, with `train_log.json` and `loss.csv`."""
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_train_log(tmp, info, losses)


def training_texts(rows: Sequence[Record]) -> list[str]:
    """The text each row contributes: its text, or the neutral side of a (human) pair."""
    return [(r.text if r.kind == "text" else r.neutral) or "" for r in rows]


def log_summary(log: TrainLog, rows: int) -> dict[str, Any]:
    """The numbers of a training run worth keeping."""
    return {"rows": rows, "steps": log.steps, "resumed_from": log.resumed_from, "final_loss": log.final_loss,
            "first_loss": log.losses[0] if log.losses else None}


LORA_INIT = "lora-init: seeded by the recipe seed (factory.train.causal.add_lora)"
"""Part of a LoRA run's id: checkpoints of runs whose adapters started from unseeded weights (before this
was fixed) have another id, so they are never resumed or reused."""


def checkpoint_folder(recipe: Recipe, target: ModelSpec, stem: str, texts: Sequence[str], root: Path) -> Path:
    """Where fine-tuning `target` on mix `stem` keeps its checkpoints:
    <root>/cache/<recipe>/train/<target>-<stem>-<run id of settings, target, seed and texts>."""
    lora = (LORA_INIT,) if recipe.lm_train.method == "lora" else ()
    run_id = content_id(recipe.lm_train.model_dump_json(), json.dumps(describe(target, root), sort_keys=True),
                        str(recipe.seed), *lora, *texts)
    return Layout(root).cache(recipe.name) / "train" / f"{target_name(target)}-{stem}-{run_id}"


def current_checkpoints(recipe: Recipe, root: Path = Path("data")) -> list[Path]:
    """The checkpoint folders `run` (without a limit) would use on the current mixes (for `factory clean`)."""
    mixed = Layout(root).mixed(recipe.name)
    stems = [f"ratio-{mix['ratio']:.2f}" for mix in MixManifest.read(mixed / "manifest.json").mixes]
    texts = {stem: training_texts(read_records(mixed / f"{stem}.parquet")) for stem in stems}
    return [checkpoint_folder(recipe, target, stem, texts[stem], root)
            for target in recipe.lm_train.targets for stem in stems]


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/trained/<recipe>/<target>/<mix>/ (model or adapters + train_log.json) and summary.json."""
    settings = recipe.lm_train
    mixed = Layout(root).mixed(recipe.name)
    manifest = MixManifest.read(mixed / "manifest.json").raw
    out = Layout(root).trained(recipe.name)
    summaries: dict[str, Any] = {}
    with atomic_dir(out) as tmp:
        for target in settings.targets:
            name = target_name(target)
            for mix in manifest["mixes"]:
                stem = f"ratio-{mix['ratio']:.2f}"
                texts = training_texts(read_records(mixed / f"{stem}.parquet")[:limit])
                checkpoints = checkpoint_folder(recipe, target, stem, texts, root)
                model, tokenizer, log = fine_tune(target, texts, settings, root=root, seed=recipe.seed,
                                                  checkpoints=checkpoints)
                info = {**log_summary(log, len(texts)), "target": describe(target, root), "method": settings.method,
                        "ratio": mix["ratio"]}
                save_model(model, tokenizer, tmp / name / stem, info, log.losses)
                summaries[f"{name}/{stem}"] = info
        write_json(tmp / "summary.json", summaries)
    return out
