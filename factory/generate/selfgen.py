"""`selfgen` (SGEAT, Wang et al. 2022): self-generated text, the least toxic share kept.

The base LM (`models.generator`) samples `selfgen.num_samples` texts from a BOS-only
prompt through the recipe's generation backend (hf, vllm, or an OpenAI-compatible
server in completion mode), with `generate.sampling` (length, n, temperature, top-p,
seed) and the request cache. Each text is scored by `models.toxicity`; texts shorter
than `min_words` are dropped (`selfgen_empty`), and of the rest the `keep_fraction`
with the lowest scores is kept - a rank cut, not a threshold (published: 50%). With
`keep_fraction_of: all` the count is a share of every generated text, as SGEAT's filter
counts all lines (empty ones included) but ranks only the scored ones. The
others stay in the output as dropped rows with reason `selfgen_rank_cut`.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from factory.models.backends import Request, open_backend, request_seed
from factory.models.backends.base import plain_prompt
from factory.models.loading import load_toxicity, loading, resolve
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, content_id, write_json, write_records
from factory.core.layout import Layout


def rank_cut(scores: np.ndarray, keep_fraction: float, of_total: int | None = None) -> np.ndarray:
    """Boolean mask of the round(keep_fraction * n) lowest scores (ties: earlier rows first); with `of_total`,
    of the floor(keep_fraction * of_total) lowest (SGEAT's count over all generated lines), at most n."""
    scores = np.asarray(scores, dtype=np.float64)
    count = round(keep_fraction * len(scores)) if of_total is None else math.floor(keep_fraction * of_total)
    keep = np.zeros(len(scores), dtype=bool)
    keep[np.argsort(scores, kind="stable")[:count]] = True
    return keep


def bos_text(recipe: Recipe, root: Path) -> str:
    """The generator's BOS token as text (its EOS token when it has no BOS, as for GPT-2 style models)."""
    from transformers import AutoTokenizer

    spec = recipe.models.generator
    target = resolve(spec, root)
    with loading(spec, target):
        tokenizer = AutoTokenizer.from_pretrained(target, revision=spec.revision)
    return tokenizer.bos_token or tokenizer.eos_token or ""


def build_requests(recipe: Recipe, bos: str, num_samples: int) -> list[Request]:
    """Enough BOS-prompt requests for `num_samples` texts at `sampling.n` completions each."""
    sampling = recipe.generate.sampling
    count = math.ceil(num_samples / sampling.n)
    keys = [content_id("selfgen", str(i)) for i in range(count)]
    return [Request(key=k, messages=plain_prompt(bos), seed=request_seed(sampling.seed, k)) for k in keys]


def score_and_cut(recipe: Recipe, texts: list[str], toxicity: np.ndarray) -> list[Record]:
    """Text rows with their toxicity and rank; empty ones and the rank cut dropped with reasons."""
    settings = recipe.selfgen
    eligible = [i for i, t in enumerate(texts) if len(t.split()) >= max(settings.min_words, 1)]
    keep = rank_cut(toxicity[eligible], settings.keep_fraction,
                    len(texts) if settings.keep_fraction_of == "all" else None)
    ranks = np.empty(len(eligible), dtype=np.int64)
    ranks[np.argsort(toxicity[eligible], kind="stable")] = np.arange(len(eligible))
    rank_of = {i: (int(ranks[j]), bool(keep[j])) for j, i in enumerate(eligible)}
    records = []
    for index, text in enumerate(texts):
        record = Record.make("text", lang=recipe.human.lang, text=text, source="synthetic:selfgen",
                             recipe=recipe.name, split="train", group=content_id("selfgen", str(index)))
        record.attributes = {"synthetic_side": "neutral", "index": index, "toxicity": float(toxicity[index])}
        if index not in rank_of:
            record.drop("selfgen_empty")
        else:
            rank, kept = rank_of[index]
            record.attributes["toxicity_rank"] = rank
            if not kept:
                record.drop("selfgen_rank_cut")
        records.append(record)
    return records


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/generated/<recipe>/rows.parquet (kept and dropped rows) and stats.json."""
    settings = recipe.selfgen
    num_samples = min(limit, settings.num_samples) if limit else settings.num_samples
    backend = open_backend(recipe.generate, recipe.models.generator, root,
                           cache=Layout(root).cache(recipe.name) / "requests.sqlite")
    completions = backend.generate(build_requests(recipe, bos_text(recipe, root), num_samples),
                                   recipe.generate.sampling)
    texts = [t.strip() for outs in completions for t in outs][:num_samples]
    toxicity = np.asarray(load_toxicity(recipe.models.toxicity, root)(texts), dtype=np.float64)
    records = score_and_cut(recipe, texts, toxicity)
    kept = [r.attributes["toxicity"] for r in records if r.kept]
    cut = [r.attributes["toxicity"] for r in records if r.drop_reason == "selfgen_rank_cut"]
    stats = {"rows": len(records), "outcomes": dict(Counter(r.drop_reason or "kept" for r in records)),
             "backend": backend.describe(), "sampling": recipe.generate.sampling.model_dump(), "prompt": "BOS only",
             "keep_fraction": settings.keep_fraction, "keep_fraction_of": settings.keep_fraction_of,
             "toxicity_kept_max": max(kept) if kept else None, "toxicity_cut_min": min(cut) if cut else None}
    out = Layout(root).generated(recipe.name)
    with atomic_dir(out) as tmp:
        write_records(tmp / "rows.parquet", records)
        write_json(tmp / "stats.json", stats)
    return out
