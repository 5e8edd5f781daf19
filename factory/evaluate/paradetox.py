"""ParaDetox evaluation of reference detoxifiers on the held-out human test split.

For every trained mix: greedy-decode each unique toxic test input, then score STA, SIM,
FL and J (see `factory.metrics`) and ChrF/BLEU against all human references of the input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from factory import metrics
from factory.checks import is_empty
from factory.models.loading import load_fluency, load_similarity, load_toxicity
from factory.models.pair_similarity import load_j_similarity
from factory.progress import progress
from factory.recipe import Recipe
from factory.core.records import Record


def test_inputs(test: Sequence[Record], max_rows: int | None) -> tuple[list[str], list[list[str]]]:
    """Unique toxic test inputs (first-seen order) and the human references of each."""
    refs: dict[str, list[str]] = {}
    for record in test:
        refs.setdefault(record.toxic or "", []).append(record.neutral or "")
    inputs = list(refs)[:max_rows] if max_rows else list(refs)
    return inputs, [refs[i] for i in inputs]


def detoxify(model_dir: Path, inputs: Sequence[str], recipe: Recipe) -> list[str]:
    """Greedy (or beam) decoding of the trained detoxifier, batched."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()
    settings, outputs = recipe.evaluate, []
    for start in progress(range(0, len(inputs), settings.batch_size), desc="evaluate: detoxify", unit="batch"):
        enc = tokenizer(list(inputs[start : start + settings.batch_size]), return_tensors="pt", padding=True,
                        truncation=True, max_length=recipe.train.max_length)
        with torch.inference_mode():
            ids = model.generate(**enc, max_new_tokens=settings.max_new_tokens, num_beams=settings.num_beams,
                                 do_sample=False)
        outputs.extend(t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True))
    return outputs


class Scorers:
    """The three classifiers/encoders of J, loaded once per evaluation."""

    def __init__(self, recipe: Recipe, root: Path):
        self.toxicity = load_toxicity(recipe.models.toxicity, root)
        self.fluency = load_fluency(recipe.models.fluency, root)
        j_sim = recipe.evaluate.similarity
        self.similarity = load_j_similarity(j_sim, root) if j_sim else load_similarity(recipe.models.similarity, root)
        self.mode = recipe.evaluate.scores

    def score(self, inputs: Sequence[str], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Per-row STA, SIM, FL and J."""
        sta = metrics.as_scores(1.0 - self.toxicity(outputs), self.mode)
        fl = metrics.as_scores(self.fluency(outputs), self.mode)
        sim = np.clip(self.similarity.pairwise(inputs, outputs), 0.0, 1.0)
        empty = np.array([is_empty(o) for o in outputs], dtype=bool)
        sim[empty], fl[empty] = 0.0, 0.0
        return {"STA": sta, "SIM": sim, "FL": fl, "J": metrics.joint_scores(sta, sim, fl)}


def evaluate_outputs(scorers: Scorers, inputs: Sequence[str], outputs: Sequence[str],
                     references: Sequence[Sequence[str]], recipe: Recipe,
                     label: str) -> tuple[dict[str, Any], list[Record]]:
    """Score one system's outputs; return (summary metrics, per-row records)."""
    per_row = scorers.score(inputs, outputs)
    summary = metrics.summary(per_row["STA"], per_row["SIM"], per_row["FL"])
    summary.update(metrics.reference_scores(outputs, references))
    summary["rows"] = len(inputs)
    rows = []
    for i, (source, output) in enumerate(zip(inputs, outputs)):
        record = Record.make("pair", lang=recipe.human.lang, toxic=source, neutral=output,
                             source=f"eval:{label}", recipe=recipe.name, split="test")
        record.attributes = {"system": label, **{k: float(v[i]) for k, v in per_row.items()}}
        rows.append(record)
    return summary, rows
