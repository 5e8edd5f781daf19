"""Stage `train` of kind `crosslingual`: one LoRA model per train setting (TRL + PEFT), resumable.

`train_setting` is what each `train-<recipe>-<setting>` DVC stage runs; `train` (what `factory train`
and `factory run` call) runs every setting in turn. Each writes trained/<label>/ (the adapter and
setting.json); checkpoints live in data/cache/<recipe>/crosslingual/<label>-<fingerprint>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError, check_limit
from factory.core.records import atomic_dir, content_id, write_json
from factory.kinds.crosslingual.naming import (SETTING_FILE, base_dir, planned_labels, planned_runs, setting_label,
                                               trained_dir)
from factory.kinds.crosslingual.steps import model_target, read_upstream, train_rows
from factory.recipe import Recipe


def _where(recipe: Recipe) -> str:
    return recipe.path or recipe.name


def run_spec(recipe: Recipe, method: str, share: float) -> Any:
    """The `RunSpec` of one method (and share: the reference trains shares below 1 longer)."""
    from factory.crossft.training import LoraSpec, RunSpec

    cl = recipe.crosslingual
    lora = LoraSpec(cl.lora.r, cl.lora.alpha, cl.lora.dropout, list(cl.lora.target_modules))
    common = {"lora": lora, "seed": cl.continuation.seed, "quantization": cl.quantization, "dtype": cl.model.dtype}
    if method == "dpo":
        d = cl.dpo
        common["quantization"] = d.quantization
        if d.target_modules is not None:
            lora.target_modules = list(d.target_modules)
        return RunSpec("seq2seq-dpo" if cl.architecture == "seq2seq" else "dpo", d.epochs, d.learning_rate,
                       d.batch_size, d.grad_accumulation, d.max_length, warmup_steps=d.warmup_steps,
                       max_grad_norm=d.max_grad_norm, beta=d.beta, scheduler=d.scheduler, fp16=d.fp16,
                       optimizer=d.optimizer, gradient_checkpointing=d.gradient_checkpointing,
                       drop_last_batch=d.drop_last_batch, **common)
    s = cl.sft
    return RunSpec("seq2seq" if cl.architecture == "seq2seq" else "sft", s.epochs if share >= 1 else s.share_epochs,
                   s.learning_rate, s.batch_size, s.grad_accumulation, s.max_length,
                   gradient_checkpointing=s.gradient_checkpointing, **common)


def examples_for(method: str, pairs: dict[str, list[tuple[str, str]]],
                 dpo_prompt: str | None = None) -> list[dict[str, str]]:
    """The training rows of one method over every language's pairs (language order); DPO prompts
    follow the template `dpo_prompt` (None: the causal reference's)."""
    from factory.crossft import formats

    flat = [pair for rows in pairs.values() for pair in rows]
    if method in ("dpo", "seq2seq-dpo"):
        return formats.dpo_examples(flat, dpo_prompt or formats.DPO_PROMPT)
    return {"seq2seq": formats.seq2seq_examples}.get(method, formats.sft_examples)(flat)


def _planned_run(recipe: Recipe, label: str) -> tuple[str, str, float]:
    runs = {setting_label(*run): run for run in planned_runs(recipe)}
    if label not in runs:
        raise FactoryError(f"{_where(recipe)}: train setting {label!r} is not one the recipe trains "
                           f"({', '.join(runs) or 'none'})")
    return runs[label]


def _require_quantizations(recipe: Recipe) -> None:
    from factory.crossft.training import require_quantization

    cl = recipe.crosslingual
    require_quantization(cl.quantization, f"{_where(recipe)}: crosslingual.quantization")
    if "dpo" in cl.methods:
        require_quantization(cl.dpo.quantization, f"{_where(recipe)}: crosslingual.dpo.quantization")


def train_setting(recipe: Recipe, root: Path, label: str, limit: int | None = None) -> Path:
    """Train (or resume, or reuse) the model of one train setting into trained/<label>/: the adapter and
    setting.json (its training log, data, share and languages). One DVC stage per setting calls this."""
    from factory.crossft.split import share_rows
    from factory.crossft.training import train_adapter
    from factory.models.loading import describe, loading

    check_limit(limit, "train")
    method, data, share = _planned_run(recipe, label)
    _require_quantizations(recipe)
    cl = recipe.crosslingual
    split = read_upstream(recipe, base_dir(recipe, root) / "split" / "split.json", "generate")
    target = model_target(recipe, root)
    spec = run_spec(recipe, method, share)
    pairs = share_rows(train_rows(split, data, cl.data.languages), share, cl.data.shuffle_seed)
    examples = examples_for(spec.method, pairs, cl.dpo.prompt)[:limit]
    fingerprint = content_id(repr(spec), repr(describe(cl.model, root)), *(repr(e) for e in examples))
    checkpoints = Path(root) / "cache" / recipe.name / "crosslingual" / f"{label}-{fingerprint}"
    out = trained_dir(recipe, root, label)
    with atomic_dir(out) as tmp:
        with loading(cl.model, target):
            log = train_adapter(spec, target, cl.model.revision, examples, checkpoints, tmp)
        write_json(tmp / SETTING_FILE, {**log, "data": data, "share": share, "languages": sorted(pairs)})
    return out


def train(recipe: Recipe, root: Path, limit: int | None = None) -> Path:
    """Train every planned setting (each resuming from its checkpoints) into trained/<label>/."""
    check_limit(limit, "train")
    _require_quantizations(recipe)
    for label in planned_labels(recipe):
        train_setting(recipe, root, label, limit)
    return trained_dir(recipe, root)
