"""Stage `mix`: training sets of synthetic and human rows at fixed total size.

For every ratio r of `mix.ratios`, the mix holds round(r * size) kept synthetic rows and
the rest human train rows, each drawn by a seeded sample, so mixes differ only in their
synthetic share. `size` defaults to the largest size every ratio can fill. Human train
rows that near-duplicate a human test row (the filter report's `leaking_human_ids`) are
left out, so no detoxifier trains on a paraphrase of a test sentence.
Writes data/mixed/<recipe>/ratio-<r>.parquet and manifest.json.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Sequence

from factory.core.errors import FactoryError, check_limit
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, read_records, write_json, write_records
from factory.core.layout import Layout
from factory.core.reports import FilterReport


def ratio_name(ratio: float) -> str:
    """Folder/file stem of a ratio: `ratio-0.25`."""
    return f"ratio-{ratio:.2f}"


def fillable_size(ratios: Sequence[float], n_synthetic: int, n_human: int) -> int:
    """The largest total size that every ratio can fill from the available rows."""
    size = n_synthetic + n_human
    for r in ratios:
        if r > 0:
            size = min(size, math.floor(n_synthetic / r + 1e-9))
        if r < 1:
            size = min(size, math.floor(n_human / (1 - r) + 1e-9))
    return size


def make_mix(synthetic: Sequence[Record], human: Sequence[Record], ratio: float, size: int, seed: int) -> list[Record]:
    """A seeded mix of `size` rows with round(ratio * size) synthetic ones."""
    n_syn = round(ratio * size)
    rng = random.Random(f"{seed}:{ratio}")
    rows = rng.sample(list(synthetic), n_syn) + rng.sample(list(human), size - n_syn)
    rng.shuffle(rows)
    return rows


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write one Parquet file per ratio and a manifest of the mixes."""
    check_limit(limit, "mix")
    filtered = Layout(root).filtered(recipe.name)
    synthetic = read_records(filtered / "rows.parquet", kept_only=True)
    leaking = set(FilterReport.read(filtered / "report.json").leaking_human_ids)
    human_train = read_records(Layout(root).human_split(recipe.name, "train"))
    human = [r for r in human_train if r.id not in leaking]
    ratios = sorted(set(recipe.mix.ratios))
    size = recipe.mix.size or fillable_size(ratios, len(synthetic), len(human))
    size = min(size, limit) if limit else size
    if size > fillable_size(ratios, len(synthetic), len(human)) or size < 1:
        raise FactoryError(
            f"{recipe.path}: mix.size: {size} rows cannot be filled at every ratio "
            f"({len(synthetic)} kept synthetic rows, {len(human)} human train rows)"
        )
    out = Layout(root).mixed(recipe.name)
    manifest = []
    with atomic_dir(out) as tmp:
        for ratio in ratios:
            rows = make_mix(synthetic, human, ratio, size, recipe.seed)
            write_records(tmp / f"{ratio_name(ratio)}.parquet", rows)
            manifest.append({"ratio": ratio, "rows": len(rows), "synthetic": sum(r.source != "human" for r in rows),
                             "leaking_human": sum(r.id in leaking for r in rows)})
        write_json(tmp / "manifest.json", {"size": size, "mixes": manifest,
                                           "left_out_leaking_human": len(human_train) - len(human)})
    return out
