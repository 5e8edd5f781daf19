"""Stage `filter`: exact and near-duplicate removal, decontamination, diversity.

Reads data/generated/<recipe>/rows.parquet and writes data/filtered/<recipe>/ with
`rows.parquet` (every row, dropped ones with `drop_reason` and `drop_ref`) and
`report.json` (rates and the diversity report of the kept synthetic side next to the
same side of the human train split). Drop reasons added here: `exact_duplicate`,
`near_duplicate`, `contamination` (near-duplicates a human test row; `drop_ref` names
it) and `diversity_selection` (left out by diversity-aware selection).
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from factory.core import limits
from factory.core.errors import check_limit
from factory.filter.diversity import corpus_report, select_diverse
from factory.filter.minhash import DedupeResult, contamination, dedupe, exact_duplicates
from factory.progress import progress
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, read_records, write_json, write_records
from factory.core.layout import Layout


def _sides(record: Record) -> list[str]:
    return [record.text or ""] if record.kind == "text" else [record.toxic or "", record.neutral or ""]


def drop_exact(rows: Sequence[Record]) -> None:
    """Drop rows whose content equals an earlier kept row's after normalisation."""
    live = [r for r in rows if r.kept]
    for record, first in zip(live, exact_duplicates([r.content() for r in live])):
        if first is not None:
            record.drop("exact_duplicate", live[first].id)


def near_dedupe(recipe: Recipe) -> Callable[..., DedupeResult]:
    """`dedupe` on the recipe's engine: in process, or on Ray Data (the same clusters and kept rows)."""
    if recipe.engine.name == "ray":
        from factory.engines.ray_dedupe import dedupe as ray_dedupe

        return functools.partial(ray_dedupe, engine=recipe.engine)
    return dedupe


def drop_near(rows: Sequence[Record], recipe: Recipe) -> np.ndarray:
    """Drop near-duplicates (MinHash); return the cluster id of every live row."""
    live = [r for r in rows if r.kept]
    settings = recipe.filter.minhash
    scores = None
    if settings.keep == "attribute" and settings.keep_attribute:
        scores = [float(r.attributes.get(settings.keep_attribute) or 0.0) for r in live]
    result = near_dedupe(recipe)([r.content() for r in live], settings, scores)
    for record, keep, ref in zip(live, result.keep, result.dup_of):
        if not keep:
            record.drop("near_duplicate", live[ref].id if ref is not None else None)
    return result.cluster


def drop_contaminated(rows: Sequence[Record], test: Sequence[Record], recipe: Recipe) -> int:
    """Drop rows with any side near-duplicating any side of a test row; return the count."""
    reference = [side for r in test for side in _sides(r)]
    owners = [r for r in test for _ in _sides(r)]
    dropped = 0
    for side_index in range(2):
        live = [r for r in rows if r.kept and side_index < len(_sides(r))]
        matches = contamination([_sides(r)[side_index] for r in live], reference, recipe.filter.minhash)
        for record, match in zip(live, matches):
            if match is not None:
                record.drop("contamination", owners[match].id)
                dropped += 1
    return dropped


def contaminated_ids(rows: Sequence[Record], test: Sequence[Record], recipe: Recipe) -> list[str]:
    """Ids of the rows that near-duplicate a test row on any side (sorted)."""
    reference = [side for r in test for side in _sides(r)]
    hits = set()
    for side_index in range(2):
        live = [r for r in rows if side_index < len(_sides(r))]
        for record, match in zip(live, contamination([_sides(r)[side_index] for r in live], reference,
                                                     recipe.filter.minhash)):
            if match is not None:
                hits.add(record.id)
    return sorted(hits)


def select(rows: Sequence[Record], recipe: Recipe) -> None:
    """Diversity-aware selection of the kept rows, when the recipe asks for it."""
    settings = recipe.filter.diversity
    live = [r for r in rows if r.kept]
    if not settings.select or not live:
        return
    cluster = drop_near_clusters(live, recipe)
    chosen = set(select_diverse([r.content() for r in live], cluster, cluster_cap=settings.cluster_cap,
                                target_rows=settings.target_rows, target_distinct2=settings.target_distinct2,
                                seed=recipe.seed))
    for index, record in enumerate(live):
        if index not in chosen:
            record.drop("diversity_selection")


def drop_near_clusters(live: Sequence[Record], recipe: Recipe) -> np.ndarray:
    """Near-duplicate cluster ids of `live` rows, without dropping anything."""
    settings = recipe.filter.minhash.model_copy(update={"keep": "first"})
    return dedupe([r.content() for r in live], settings).cluster


def human_side(train: Sequence[Record], rows: Sequence[Record]) -> list[str]:
    """The human train texts on the same side the synthetic rows generated."""
    side = next((r.attributes.get("synthetic_side") for r in rows), "toxic")
    if any(r.kind == "text" for r in train):
        return [r.text or "" for r in train]
    return [(r.neutral if side == "neutral" else r.toxic) or "" for r in train]


def build_report(rows: Sequence[Record], train: Sequence[Record], test: Sequence[Record], recipe: Recipe,
                 contaminated_dropped: int) -> dict:
    """Rates, contamination and the diversity of the kept synthetic side vs the human side.

    `leaking_human_ids` lists human train rows that near-duplicate a human test row; the mix
    stage leaves them out of every training set.
    """
    total = max(len(rows), 1)
    leaking = contaminated_ids(train, test, recipe)
    reasons = Counter(r.drop_reason or "kept" for r in rows)
    kept = [r for r in rows if r.kept]
    synthetic = corpus_report([r.content() for r in kept], lexicon=_lexicon(recipe))
    human = corpus_report(human_side(train, rows), lexicon=_lexicon(recipe))
    return {
        "rows": len(rows),
        "kept": len(kept),
        "outcomes": dict(sorted(reasons.items())),
        "near_dup_rate": (reasons["exact_duplicate"] + reasons["near_duplicate"]) / total,
        "refusal_rate": reasons["refusal"] / total,
        "copy_rate": reasons["copy"] / total,
        "contamination_dropped": contaminated_dropped,
        "contamination": len(contaminated_ids(kept, test, recipe)),
        "train_test_leakage": len(leaking),
        "leaking_human_ids": leaking,
        "synthetic": synthetic,
        "human": human,
        "distinct2_ratio": synthetic["distinct_2"] / human["distinct_2"] if human["distinct_2"] else 0.0,
    }


def _lexicon(recipe: Recipe) -> list[str] | None:
    path = recipe.filter.diversity.lexicon
    if not path:
        return None
    return [w.strip() for w in Path(path).read_text(encoding="utf-8").splitlines() if w.strip()]


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Filter the generated rows; write data/filtered/<recipe>/{rows.parquet,report.json}."""
    check_limit(limit, "filter")
    rows = limits.head_per_language(read_records(Layout(root).generated(recipe.name) / "rows.parquet"), limit)
    human = Layout(root).human(recipe.name)
    train, test = read_records(human / "train.parquet"), read_records(human / "test.parquet")
    phases = progress(total=4, desc="filter: exact, near-duplicate, contamination, diversity", unit="phase")
    if recipe.filter.exact:
        drop_exact(rows)
    phases.update(1)
    if recipe.filter.minhash.enabled:
        drop_near(rows, recipe)
    phases.update(1)
    contaminated = drop_contaminated(rows, test, recipe) if recipe.filter.decontaminate else 0
    phases.update(1)
    select(rows, recipe)
    phases.update(1)
    phases.close()
    out = Layout(root).filtered(recipe.name)
    with atomic_dir(out) as tmp:
        write_records(tmp / "rows.parquet", rows)
        write_json(tmp / "report.json", build_report(rows, train, test, recipe, contaminated))
    return out
