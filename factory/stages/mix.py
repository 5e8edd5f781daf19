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

import polars as pl

from factory.core.errors import FactoryError, check_limit
from factory.recipe import Recipe
from factory.core.frames import read_frame, write_frame
from factory.core.records import Record, atomic_dir, write_json
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


def mix_positions(n_synthetic: int, n_human: int, ratio: float, size: int,
                  seed: int) -> tuple[list[int], list[int], list[int]]:
    """The seeded draw of a mix: synthetic and human row indices, and the order of the drawn rows.

    `random.sample` and `shuffle` pick by position only, so drawing from `range(n)` selects
    exactly the rows that drawing from the rows themselves would.
    """
    n_syn = round(ratio * size)
    rng = random.Random(f"{seed}:{ratio}")
    synthetic = rng.sample(range(n_synthetic), n_syn)
    human = rng.sample(range(n_human), size - n_syn)
    order = list(range(size))
    rng.shuffle(order)
    return synthetic, human, order


def make_mix(synthetic: Sequence[Record], human: Sequence[Record], ratio: float, size: int, seed: int) -> list[Record]:
    """A seeded mix of `size` rows with round(ratio * size) synthetic ones."""
    syn_at, hum_at, order = mix_positions(len(synthetic), len(human), ratio, size, seed)
    rows = [synthetic[i] for i in syn_at] + [human[i] for i in hum_at]
    return [rows[i] for i in order]


def mix_frame(synthetic: pl.DataFrame, human: pl.DataFrame, ratio: float, size: int, seed: int) -> pl.DataFrame:
    """`make_mix` on frames: the same rows in the same order, without turning rows into objects."""
    syn_at, hum_at, order = mix_positions(synthetic.height, human.height, ratio, size, seed)
    drawn = pl.concat([synthetic.select(pl.all().gather(syn_at)), human.select(pl.all().gather(hum_at))])
    return drawn.select(pl.all().gather(order))


def mix_counts(rows: pl.DataFrame, leaking: set[str]) -> dict[str, int]:
    """The manifest's counts of one mix: rows, synthetic rows, leaking human rows."""
    counts = rows.select(synthetic=pl.col("source").ne_missing("human").sum(),
                         leaking_human=pl.col("id").is_in(list(leaking)).sum())
    return {"rows": rows.height, **{k: int(v) for k, v in counts.row(0, named=True).items()}}


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write one Parquet file per ratio and a manifest of the mixes."""
    check_limit(limit, "mix")
    filtered = Layout(root).filtered(recipe.name)
    synthetic = read_frame(filtered / "rows.parquet", kept_only=True)
    leaking = set(FilterReport.read(filtered / "report.json").leaking_human_ids)
    human_train = read_frame(Layout(root).human_split(recipe.name, "train"))
    human = human_train.filter(~pl.col("id").is_in(list(leaking)))
    n_synthetic, n_human = synthetic.height, human.height
    ratios = sorted(set(recipe.mix.ratios))
    size = recipe.mix.size or fillable_size(ratios, n_synthetic, n_human)
    size = min(size, limit) if limit else size
    if size > fillable_size(ratios, n_synthetic, n_human) or size < 1:
        raise FactoryError(
            f"{recipe.path}: mix.size: {size} rows cannot be filled at every ratio "
            f"({n_synthetic} kept synthetic rows, {n_human} human train rows)"
        )
    out = Layout(root).mixed(recipe.name)
    manifest = []
    with atomic_dir(out) as tmp:
        for ratio in ratios:
            rows = mix_frame(synthetic, human, ratio, size, recipe.seed)
            write_frame(tmp / f"{ratio_name(ratio)}.parquet", rows)
            manifest.append({"ratio": ratio, **mix_counts(rows, leaking)})
        write_json(tmp / "manifest.json", {"size": size, "mixes": manifest,
                                           "left_out_leaking_human": human_train.height - n_human})
    return out
