"""The reference seq2seq detoxifier: fine-tune `models.detoxifier` on toxic -> neutral pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.models.loading import load_seq2seq
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir
from factory.train.loss_log import write_train_log
from factory.train.loop import train


def make_collate(tokenizer: Any, rows: Sequence[Record], max_length: int):
    """Collate function: tokenised toxic inputs and neutral labels (pad masked with -100)."""

    def collate(indices: Sequence[int]) -> dict[str, Any]:
        batch = [rows[i] for i in indices]
        enc = tokenizer([r.toxic or "" for r in batch], text_target=[r.neutral or "" for r in batch],
                        max_length=max_length, truncation=True, padding=True, return_tensors="pt")
        labels = enc["labels"]
        labels[labels == tokenizer.pad_token_id] = -100
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}

    return collate


def train_detoxifier(recipe: Recipe, rows: Sequence[Record], out: Path, *, root: Path, checkpoints: Path) -> dict:
    """Fine-tune a fresh copy of the detoxifier on `rows`; save it to `out`; return the log."""
    model, tokenizer = load_seq2seq(recipe.models.detoxifier, root)
    log = train(model, make_collate(tokenizer, rows, recipe.train.max_length), len(rows), recipe.train,
                seed=recipe.seed, checkpoints=checkpoints)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        summary = {"rows": len(rows), "steps": log.steps, "resumed_from": log.resumed_from,
                   "final_loss": log.final_loss, "first_loss": log.losses[0] if log.losses else None}
        write_train_log(tmp, summary, log.losses)
    return summary
