"""A plain, resumable training loop shared by the seq2seq and causal-LM trainers.

AdamW with a linear (or constant) schedule after linear warm-up. The data order of each
epoch is a permutation seeded by (seed, epoch), so a run resumed from a checkpoint sees
exactly the batches an uninterrupted run would. A checkpoint (model, optimiser,
scheduler, step, RNG) is written atomically every `save_every` steps and at the end;
only the latest is kept.

Checkpoints are read with `torch.load(weights_only=True)`: tensors and plain Python
values only, never pickled objects, so a planted `step-N.pt` cannot run code. A file that
does not load that way (or lacks a part) stops the run with a `FactoryError` naming it;
it is never skipped silently, since restarting from step 0 would hide a lost run.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.core.errors import FactoryError
from factory.progress import progress
from factory.recipe.study import Train
from factory.core.records import atomic_file

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


CHECKPOINT_NAME = re.compile(r"step-(\d+)\.pt")
"""File name of a checkpoint: `step-N.pt`, N the optimiser steps taken."""


def _latest_checkpoint(folder: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in folder.glob("step-*.pt") if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return max(found)[1] if found else None


def _unloadable(path: Path, reason: str) -> FactoryError:
    return FactoryError(f"{path}: cannot resume training from this checkpoint ({reason}); "
                        "delete it to restart this training run from step 0")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state saved in checkpoint `path`, read as tensors and plain values only (no code runs).

    Raises `FactoryError` naming the file when it does not load that way or lacks a part.
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure means the same thing: this file cannot be resumed from
        found = re.search(r"Unsupported global: GLOBAL ([^\s]+)", str(error))
        first_line = (str(error).splitlines() or [type(error).__name__])[0][:120]
        reason = (f"it holds pickled objects, not only tensors: {found.group(1)}" if found
                  else f"not a readable torch file: {first_line}")
        raise _unloadable(path, reason) from None
    if not isinstance(state, dict):
        raise _unloadable(path, f"holds a {type(state).__name__}, not a dict")
    kinds = {"step": int, "model": dict, "optimizer": dict, "scheduler": dict, "rng": torch.Tensor, "losses": list}
    missing = [part for part, kind in kinds.items() if not isinstance(state.get(part), kind)]
    if missing:
        raise _unloadable(path, f"no valid {', '.join(missing)}")
    return state


def _restore(path: Path, model: Any, optimizer: Any, scheduler: Any, log: TrainLog) -> int:
    """Load checkpoint `path` into model, optimiser, scheduler, RNG and `log`; return its step."""
    import torch

    state = load_checkpoint(path)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise _unloadable(path, f"it does not fit this model: {str(error).splitlines()[0][:200]}") from None
    log.losses, log.resumed_from = [float(x) for x in state["losses"]], state["step"]
    return state["step"]


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


def _forward_context(model: Any, bf16_autocast: bool) -> Any:
    import torch

    if not bf16_autocast:
        return contextlib.nullcontext()
    return torch.autocast(device_type=next(model.parameters()).device.type, dtype=torch.bfloat16)


def train(model: Any, collate: CollateFn, n_examples: int, settings: Train, *, seed: int,
          checkpoints: Path, bf16_autocast: bool = False) -> TrainLog:
    """Train `model` in place; resume from the latest checkpoint in `checkpoints` if any.

    With `bf16_autocast` the forward pass (and loss) runs under bfloat16 autocast; the
    weights and the optimiser keep their own dtype.
    """
    import torch

    torch.manual_seed(seed)
    steps = total_steps(settings, n_examples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay,
                                  betas=(0.9, settings.adam_beta2))
    scheduler = _schedule(optimizer, settings, steps)
    log, start = TrainLog(), 0
    latest = _latest_checkpoint(checkpoints)
    if latest is not None:
        start = _restore(latest, model, optimizer, scheduler, log)
    model.train()
    for step in (bar := progress(range(start, steps), total=steps, initial=start, desc="train", unit="step")):
        batch = collate(batch_indices(n_examples, settings.batch_size, step, seed))
        with _forward_context(model, bf16_autocast):
            loss = model(**batch).loss
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FactoryError(f"training diverged: the loss is {value} at step {step + 1} (checkpoints: "
                               f"{checkpoints}); lower the learning rate or check the model's weights dtype")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        log.losses.append(value)
        bar.set_loss(value)
        if (step + 1) % settings.save_every == 0 or step + 1 == steps:
            _save(checkpoints, step + 1, model, optimizer, scheduler, log)
    log.steps = steps
    model.eval()
    return log
