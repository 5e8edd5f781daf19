"""Rewriting recipes: `toxify` (neutral -> toxic) and `detoxify` (toxic -> neutral).

Inputs are the unique input-side sentences of the human train split; each request is a
system prompt, k few-shot pairs (from the human train split or `generate.prompt.few_shot_source`;
a seeded choice per input, or the pool's last k as PseudoParaDetox did; never the input's own
pair) and the sentence to rewrite. Every output goes through `factory.checks` (with the
backend's truncated flag of each completion); a row that fails is re-sampled with a new
seed up to `checks.max_attempts` times, and the last failure is kept as a dropped row with
its reason.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path
from typing import Sequence

from factory.checks import check_outputs
from factory.models.backends import Backend, Request, is_truncated, open_backend, request_seed
from factory.models.loading import load_similarity, load_toxicity
from factory.progress import log
from factory.prompts import Direction, example_pair, rewrite_messages
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, content_id, read_records, write_json, write_records
from factory.core.layout import Layout


def select_inputs(train: Sequence[Record], direction: Direction, seed: int, limit: int | None) -> list[str]:
    """Unique input-side sentences of the train split, in a seeded order, at most `limit`."""
    side = "neutral" if direction == "toxify" else "toxic"
    texts = sorted({getattr(r, side) for r in train if getattr(r, side)})
    random.Random(seed).shuffle(texts)
    return texts[:limit] if limit else texts


def few_shot_examples(pool: Sequence[Record], direction: Direction, text: str, k: int, seed: int,
                      choice: str = "random") -> list[tuple[str, str]]:
    """k pairs of `pool` oriented for `direction`, never the input's own pair.

    `random`: chosen by a seed tied to the input text; `last`: the last k pairs in pool order
    (the same for every input that is not one of them).
    """
    if k == 0:
        return []
    candidates = [r for r in pool if text not in (r.toxic, r.neutral)]
    if choice == "last":
        chosen = candidates[-k:]
    else:
        chosen = random.Random(f"{seed}:{text}").sample(candidates, min(k, len(candidates)))
    return [example_pair(direction, r.toxic or "", r.neutral or "") for r in chosen]


def few_shot_pool(recipe: Recipe, train: Sequence[Record]) -> tuple[list[Record], dict[str, object]]:
    """The few-shot pool (`generate.prompt.few_shot_source`, default the human train split) and how it was read."""
    spec = recipe.generate.prompt.few_shot_source
    if spec is None:
        return list(train), {"source": "human train split", "pairs": len(train)}
    from factory.text_sources import read_pairs

    pairs, skipped = read_pairs(spec, "generate.prompt.few_shot_source")
    pool = [Record.make("pair", lang=recipe.human.lang, toxic=toxic, neutral=neutral, source="few-shot",
                        recipe=recipe.name) for toxic, neutral in pairs]
    return pool, {"source": spec.source, "hub_split": spec.hub_split, "pairs": len(pool), "skipped": skipped}


def build_requests(recipe: Recipe, direction: Direction, inputs: Sequence[str], pool: Sequence[Record],
                   attempt: int = 0) -> list[Request]:
    """One request per input sentence; keys are stable across runs, seeds vary by attempt."""
    settings = recipe.generate
    requests = []
    for text in inputs:
        key = content_id(direction, text)
        examples = few_shot_examples(pool, direction, text, settings.prompt.few_shot, settings.prompt.few_shot_seed,
                                     settings.prompt.few_shot_choice)
        messages = tuple(rewrite_messages(direction, text, examples, settings.prompt.system))
        requests.append(Request(key=key, messages=messages, seed=request_seed(settings.sampling.seed, key, attempt)))
    return requests


def _to_records(recipe: Recipe, direction: Direction, inputs: Sequence[str], outputs: Sequence[str],
                reasons: Sequence[str | None], scores: dict[str, Sequence[float]], attempt: int) -> list[Record]:
    records = []
    for i, (source, output) in enumerate(zip(inputs, outputs)):
        toxic, neutral = (output, source) if direction == "toxify" else (source, output)
        record = Record.make("pair", lang=recipe.human.lang, toxic=toxic, neutral=neutral,
                             source=f"synthetic:{direction}", recipe=recipe.name, split="train",
                             group=content_id(direction, source))
        record.attributes = {"synthetic_side": "toxic" if direction == "toxify" else "neutral",
                             "attempt": attempt, **{name: float(v[i]) for name, v in scores.items()}}
        records.append(record.drop(reasons[i]) if reasons[i] else record)
    return records


def generate_and_check(recipe: Recipe, backend: Backend, direction: Direction, inputs: list[str],
                       pool: Sequence[Record], root: Path) -> list[Record]:
    """Generate, check and re-sample until every input passes or attempts run out."""
    similarity = load_similarity(recipe.models.similarity, root)
    toxicity = load_toxicity(recipe.models.toxicity, root)
    settings = recipe.generate
    final: dict[str, list[Record]] = {}
    pending = list(inputs)
    for attempt in range(settings.checks.max_attempts):
        log.log(logging.INFO if attempt else logging.DEBUG, "generate: attempt %d of %d: %d inputs", attempt + 1,
                settings.checks.max_attempts, len(pending))
        requests = build_requests(recipe, direction, pending, pool, attempt)
        completions = backend.generate(requests, settings.sampling)
        flat_in = [text for text, outs in zip(pending, completions) for _ in outs]
        truncated = [is_truncated(o) for outs in completions for o in outs]
        flat_out = [str(o) for outs in completions for o in outs]
        scores = {"similarity": similarity.pairwise(flat_in, flat_out), "toxicity": toxicity(flat_out)}
        reasons = check_outputs(flat_in, flat_out, checks=settings.checks, direction=direction,
                                similarity=scores["similarity"], toxicity=scores["toxicity"], truncated=truncated)
        by_source: dict[str, list[Record]] = {}
        for record, source in zip(_to_records(recipe, direction, flat_in, flat_out, reasons, scores, attempt), flat_in):
            by_source.setdefault(source, []).append(record)
        final.update(by_source)
        pending = [text for text in pending if not any(r.kept for r in final[text])]
        if not pending:
            break
    return [record for text in inputs for record in final.get(text, [])]


def open_generator(recipe: Recipe, root: Path, cache: Path) -> Backend:
    """The generator on the recipe's engine: a local backend, or Ray Data (the same completions)."""
    if recipe.engine.name == "ray":
        from factory.engines.ray_generate import open_ray_backend

        return open_ray_backend(recipe.generate, recipe.models.generator, recipe.engine, root, cache=cache)
    return open_backend(recipe.generate, recipe.models.generator, root, cache=cache)


def run(recipe: Recipe, direction: Direction, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/generated/<recipe>/rows.parquet (kept and dropped rows) and stats.json."""
    train = read_records(Layout(root).human_split(recipe.name, "train"))
    inputs = select_inputs(train, direction, recipe.seed, limit or recipe.generate.max_inputs)
    pool, pool_stats = few_shot_pool(recipe, train)
    backend = open_generator(recipe, root, cache=Layout(root).cache(recipe.name) / "requests.sqlite")
    records = generate_and_check(recipe, backend, direction, inputs, pool, root)
    reasons = Counter(r.drop_reason or "kept" for r in records)
    out = Layout(root).generated(recipe.name)
    with atomic_dir(out) as tmp:
        write_records(tmp / "rows.parquet", records)
        write_json(tmp / "stats.json", {"inputs": len(inputs), "rows": len(records), "outcomes": dict(reasons),
                                        "backend": backend.describe(), "few_shot_pool": pool_stats,
                                        "sampling": recipe.generate.sampling.model_dump()})
    return out
