"""A plain, resumable training loop shared by the seq2seq and causal-LM trainers.

AdamW with a linear (or constant) schedule after linear warm-up. The data order of each
epoch is a permutation seeded by (seed, epoch), so a run resumed from a checkpoint sees
exactly the batches an uninterrupted run would. A checkpoint (model, optimiser,
scheduler, step, RNG) is written atomically every `save_every` steps and at the end;
only the latest is kept.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.recipe.study import Train
from factory.records import atomic_file

CollateFn = Callable[[Sequence[int]], dict[str, Any]]


@dataclass
class TrainLog:
    """What a training run did: steps, losses, and whether it resumed."""

    steps: int = 0
    resumed_from: int = 0
    losses: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 10 logged steps (NaN when nothing ran)."""
        tail = self.losses[-10:]
        return sum(tail) / len(tail) if tail else float("nan")


def total_steps(settings: Train, n_examples: int) -> int:
    """Optimiser steps the run takes: `max_steps`, else epochs x batches per epoch."""
    per_epoch = max(1, math.ceil(n_examples / settings.batch_size))
    return settings.max_steps or max(1, math.ceil(settings.epochs * per_epoch))


def batch_indices(n_examples: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Example indices of optimiser step `step` (0-based), from the seeded epoch order."""
    per_epoch = max(1, math.ceil(n_examples / batch_size))
    epoch, offset = divmod(step, per_epoch)
    order = list(range(n_examples))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order[offset * batch_size : (offset + 1) * batch_size]


def _schedule(optimizer: Any, settings: Train, steps: int) -> Any:
    from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

    warmup = min(settings.warmup_steps, max(0, steps - 1))
    if settings.schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    return get_linear_schedule_with_warmup(optimizer, warmup, steps)


def _latest_checkpoint(folder: Path) -> Path | None:
    found = sorted(folder.glob("step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
    return found[-1] if found else None


def _save(folder: Path, step: int, model: Any, optimizer: Any, scheduler: Any, log: TrainLog) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "losses": log.losses}
    with atomic_file(folder / f"step-{step}.pt") as tmp:
        torch.save(state, tmp)
    for old in folder.glob("step-*.pt"):
        if old.name != f"step-{step}.pt":
            old.unlink(missing_ok=True)


def train(model: Any, collate: CollateFn, n_examples: int, settings: Train, *, seed: int,
          checkpoints: Path) -> TrainLog:
    """Train `model` in place; resume from the latest checkpoint in `checkpoints` if any."""
    import torch

    torch.manual_seed(seed)
    steps = total_steps(settings, n_examples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    scheduler = _schedule(optimizer, settings, steps)
    log, start = TrainLog(), 0
    latest = _latest_checkpoint(checkpoints)
    if latest is not None:
        state = torch.load(latest, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start, log.losses, log.resumed_from = state["step"], list(state["losses"]), state["step"]
    model.train()
    for step in range(start, steps):
        batch = collate(batch_indices(n_examples, settings.batch_size, step, seed))
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        log.losses.append(float(loss.detach()))
        if (step + 1) % settings.save_every == 0 or step + 1 == steps:
            _save(checkpoints, step + 1, model, optimizer, scheduler, log)
    log.steps = steps
    model.eval()
    return log
