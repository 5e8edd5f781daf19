"""LM toxicity evaluation of `distill` and `selfgen`: base vs detoxified, side by side.

For every target of `lm_train.targets`, the base model and each model trained on a mix
draw `continuations` samples per prompt (published: 25, 20 new tokens, T = 1, top-p
0.9; `lm_evaluate.top_k`, UniDetox's code had transformers' default 50) with the same
seeds; the continuations alone are scored by `models.toxicity`, and their conditional
perplexity given the prompt is computed under `lm_evaluate.perplexity_model`. Metrics
(`factory.metrics_lm`): EMT, TP, PPL, distinct-n per prompt and UniDetox's dist-n, overall
and per prompt group (or category), and the combined EMT/TP of `combined_categories`.
With `lm_evaluate.runs` > 1, run r samples with seed recipe.seed + r and every figure is
the mean over runs with its standard deviation.

Writes data/eval/<recipe>/metrics.json (systems `base/<target>` and `<target>/ratio-R`),
rows.parquet (every continuation with its score and run) and mixing.csv (one row per
trained mix of the first target: ratio, EMT, TP, PPL, distinct_2_per_prompt).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from factory.progress import progress

from factory import metrics_lm
from factory.evaluate.lm_prompts import Prompt, PromptSet, load_prompt_set
from factory.models.loading import default_device, describe, load_causal_lm, load_toxicity
from factory.recipe import Recipe
from factory.recipe.base import ModelSpec
from factory.recipe.lm import LMEvaluate, target_name
from factory.core.records import Record, atomic_dir, content_id, read_json, write_json, write_records
from factory.core.layout import Layout

PLOT_FIELDS = ("ratio", "EMT", "TP", "PPL", "distinct_2_per_prompt")


def batch_seed(seed: int, start: int) -> int:
    """The torch seed of the generate call that starts at prompt `start` (same for every system)."""
    return int.from_bytes(hashlib.sha256(f"lm-eval:{seed}:{start}".encode()).digest()[:4], "big")


def continuations(model: Any, tokenizer: Any, prompts: Sequence[str], settings: LMEvaluate,
                  seed: int) -> list[list[str]]:
    """`settings.continuations` sampled continuations (new text only) per prompt."""
    import torch

    out: list[list[str]] = []
    k = settings.continuations
    for start in progress(range(0, len(prompts), settings.batch_size), desc="evaluate: continuations", unit="batch"):
        tokenizer.padding_side = "left"
        enc = tokenizer(list(prompts[start : start + settings.batch_size]), return_tensors="pt", padding=True)
        enc = enc.to(model.device)
        torch.manual_seed(batch_seed(seed, start))
        with torch.inference_mode():
            ids = model.generate(**enc, do_sample=True, temperature=settings.temperature, top_p=settings.top_p,
                                 top_k=settings.top_k, max_new_tokens=settings.max_new_tokens, num_return_sequences=k,
                                 pad_token_id=tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out += [texts[i * k : (i + 1) * k] for i in range(len(texts) // k)]
    return out


def conditional_nll(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]],
                    batch_size: int = 32) -> tuple[list[float], list[int]]:
    """Per (prompt, continuation): summed NLL of the continuation's tokens given the prompt, and their count."""
    import torch

    sums, counts = [], []
    max_len = getattr(model.config, "max_position_embeddings", None)
    for start in progress(range(0, len(pairs), batch_size), desc="evaluate: likelihood", unit="batch"):
        chunk = pairs[start : start + batch_size]
        prompt_ids = tokenizer([p for p, _ in chunk])["input_ids"]
        cont_ids = tokenizer([c for _, c in chunk], add_special_tokens=False)["input_ids"]
        rows = [(p + c)[:max_len] for p, c in zip(prompt_ids, cont_ids)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        scored = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, (row, p) in enumerate(zip(rows, prompt_ids)):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
            scored[i, max(len(p), 1) : len(row)] = True
        targets = ids[:, 1:].masked_fill(~scored[:, 1:], -100)
        with torch.inference_mode():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits[:, :-1]
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2).float(), targets.to(model.device),
                                                    reduction="none")
        sums += nll.double().sum(-1).tolist()
        counts += scored[:, 1:].sum(-1).tolist()
    return sums, counts


class Scorer:
    """Toxicity classifier and reference LM, loaded once per evaluation."""

    def __init__(self, recipe: Recipe, root: Path):
        self.settings = recipe.lm_evaluate
        self.toxicity = load_toxicity(recipe.models.toxicity, root)
        self.ref_model, self.ref_tokenizer = load_causal_lm(self.settings.perplexity_model, root)
        self.ref_model.to(default_device())
        self.ref_tokenizer.padding_side = "right"

    def score(self, prompts: Sequence[Prompt], texts: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(toxicity, conditional perplexity) of every continuation, flat in prompt order."""
        flat = [t for group in texts for t in group]
        pairs = [(p.text, t) for p, group in zip(prompts, texts) for t in group]
        toxicity = np.asarray(self.toxicity(flat), dtype=np.float64)
        sums, counts = conditional_nll(self.ref_model, self.ref_tokenizer, pairs)
        ppl = np.array([np.exp(s / c) if c else np.inf for s, c in zip(sums, counts)])
        return toxicity, ppl

    def summary(self, prompts: Sequence[Prompt], texts: Sequence[Sequence[str]], toxicity: np.ndarray,
                ppl: np.ndarray) -> dict[str, Any]:
        """EMT, TP, PPL and distinct-n of one system (or one group of it)."""
        k = self.settings.continuations
        by_prompt = [toxicity[i * k : (i + 1) * k].tolist() for i in range(len(prompts))]
        summary = metrics_lm.lm_summary(by_prompt, texts, self.settings.toxic_threshold, [p.text for p in prompts])
        kept = ppl[ppl < self.settings.max_perplexity]
        summary["PPL"] = float(kept.mean()) if len(kept) else float("nan")
        summary["PPL_left_out"] = int(len(ppl) - len(kept))
        return summary


def evaluate_run(scorer: Scorer, prompts: Sequence[Prompt], model: Any, tokenizer: Any,
                 seed: int) -> tuple[dict[str, Any], list[list[str]], np.ndarray, np.ndarray]:
    """One run of one model: its summary (overall, per group, combined), continuations, toxicity and perplexity."""
    texts = continuations(model, tokenizer, [p.text for p in prompts], scorer.settings, seed)
    toxicity, ppl = scorer.score(prompts, texts)
    k = scorer.settings.continuations
    summary = scorer.summary(prompts, texts, toxicity, ppl)
    groups = {}
    for group in dict.fromkeys(p.group for p in prompts):
        idx = [i for i, p in enumerate(prompts) if p.group == group]
        flat = np.concatenate([np.arange(i * k, (i + 1) * k) for i in idx])
        groups[group] = scorer.summary([prompts[i] for i in idx], [texts[i] for i in idx], toxicity[flat], ppl[flat])
    summary.update(metrics_lm.combined(groups, scorer.settings.combined_categories))
    summary["groups"] = groups
    return summary, texts, toxicity, ppl


def evaluate_system(scorer: Scorer, prompts: Sequence[Prompt], model: Any, tokenizer: Any, seed: int,
                    label: str, recipe: Recipe) -> tuple[dict[str, Any], list[Record]]:
    """Metrics of one model over `lm_evaluate.runs` runs (run r: seed + r), and its continuations as rows."""
    k = scorer.settings.continuations
    summaries, rows = [], []
    for run in range(scorer.settings.runs):
        summary, texts, toxicity, ppl = evaluate_run(scorer, prompts, model, tokenizer, seed + run)
        summaries.append(summary)
        for i, prompt in enumerate(prompts):
            for j, text in enumerate(texts[i]):
                record = Record.make("text", lang=recipe.human.lang, text=text, source=f"eval:{label}",
                                     recipe=recipe.name, split="test", group=content_id(prompt.group, prompt.text))
                record.attributes = {"system": label, "prompt": prompt.text, "prompt_group": prompt.group,
                                     "run": run, "toxicity": float(toxicity[i * k + j]),
                                     "perplexity": float(ppl[i * k + j])}
                rows.append(record)
    return {**metrics_lm.aggregate_runs(summaries), "runs": scorer.settings.runs}, rows


def load_trained(folder: Path, target: ModelSpec, root: Path) -> tuple[Any, Any]:
    """A trained target: a full model folder, or LoRA adapters merged into the base target."""
    if not (folder / "adapter_config.json").exists():
        return load_causal_lm(str(folder), root)
    from peft import PeftModel
    from transformers import AutoTokenizer

    base, _ = load_causal_lm(target, root)
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    return PeftModel.from_pretrained(base, folder).merge_and_unload().eval(), tokenizer


def protocol(recipe: Recipe, prompt_set: PromptSet, root: Path) -> dict[str, Any]:
    """The evaluation settings, written beside the numbers."""
    settings, toxicity = recipe.lm_evaluate, recipe.models.toxicity
    groups: dict[str, int] = {}
    for p in prompt_set.prompts:
        groups[p.group] = groups.get(p.group, 0) + 1
    return {"prompt_files": settings.prompts, "prompts_per_group": groups, "categories": settings.categories or "off",
            "score_groups": settings.score_groups.model_dump() if settings.score_groups else "off",
            "prompts_left_out_by_group": prompt_set.left_out, "combined_categories": settings.combined_categories,
            "continuations": settings.continuations, "max_new_tokens": settings.max_new_tokens,
            "temperature": settings.temperature, "top_p": settings.top_p, "top_k": settings.top_k or "off",
            "runs": settings.runs, "seeds": [recipe.seed + r for r in range(settings.runs)],
            "toxic_threshold": settings.toxic_threshold, "max_perplexity": settings.max_perplexity,
            "toxicity_model": {**describe(toxicity, root), "label": toxicity.label, "activation": toxicity.activation},
            "perplexity_model": describe(settings.perplexity_model, root)}


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Evaluate the base and the detoxified version of every target; write metrics, rows and mixing.csv."""
    root = Path(root)
    prompt_set = load_prompt_set(recipe.lm_evaluate, recipe.seed, per_group=limit)
    prompts = prompt_set.prompts
    trained = Layout(root).trained(recipe.name)
    stems = sorted({key.split("/", 1)[1] for key in read_json(trained / "summary.json")})
    scorer = Scorer(recipe, root)
    systems: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    all_rows: list[Record] = []
    for target in recipe.lm_train.targets:
        name = target_name(target)
        for stem in (None, *stems):
            label = f"{name}/{stem}" if stem else f"base/{name}"
            model, tokenizer = (load_trained(trained / name / stem, target, root) if stem
                                else load_causal_lm(target, root))
            model = model.to(default_device()).eval()
            summary, rows = evaluate_system(scorer, prompts, model, tokenizer, recipe.seed, label, recipe)
            systems[label] = {**summary, **({"ratio": float(stem.removeprefix("ratio-"))} if stem else {})}
            all_rows += rows
        targets[name] = {"base": f"base/{name}", "detoxified": {stem: f"{name}/{stem}" for stem in stems}}
    out = Layout(root).evaluated(recipe.name)
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", {"definition": metrics_lm.LM_DEFINITION, "kind": "lm",
                                            "protocol": protocol(recipe, prompt_set, root), "targets": targets,
                                            "systems": systems})
        write_records(tmp / "rows.parquet", all_rows)
        write_records(tmp / "corpus.parquet", [])  # no synthetic-side floors for LM kinds (dvc.yaml declares it)
        _write_plot_csv(tmp / "mixing.csv", systems, targets)
    return out


def _write_plot_csv(path: Path, systems: dict[str, Any], targets: dict[str, Any]) -> None:
    first = next(iter(targets.values()))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLOT_FIELDS)
        writer.writeheader()
        for label in first["detoxified"].values():
            writer.writerow({k: round(systems[label][k], 6) for k in PLOT_FIELDS})
