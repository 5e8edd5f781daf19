"""Training of pair kinds: fine-tune the reference detoxifier on every mix of the recipe (`factory.stages.train`).

Pair kinds (toxify, detoxify, translate) train the seq2seq detoxifier. Checkpoints live
under data/cache/<recipe>/train/ (outside DVC outputs) so an interrupted run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.core.errors import check_limit
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, content_id, read_records, write_json
from factory.core.layout import Layout
from factory.core.reports import MixManifest


def run_fingerprint(recipe: Recipe, rows: list[Record], root: Path = Path("data")) -> str:
    """Identity of a training run: settings, starting model (its ref and, for a local
    folder, a fingerprint of its files), seed and the exact rows.

    Checkpoints are stored under it, so a changed mix, setting or retrained starting model
    never resumes from a checkpoint of a different run.
    """
    from factory.models.loading import describe

    return content_id(recipe.train.model_dump_json(),
                      json.dumps(describe(recipe.models.detoxifier, root), sort_keys=True),
                      str(recipe.seed), *(r.id for r in rows))


def checkpoint_folder(recipe: Recipe, rows: list[Record], stem: str, root: Path) -> Path:
    """Where the run on mix `stem` keeps its checkpoints: <root>/cache/<recipe>/train/<stem>-<run fingerprint>."""
    return Layout(root).cache(recipe.name) / "train" / f"{stem}-{run_fingerprint(recipe, rows, root)}"


def current_checkpoints(recipe: Recipe, root: Path = Path("data")) -> list[Path]:
    """The checkpoint folders `run` (without a limit) would use on the current mixes (for `factory clean`)."""
    mixed = Layout(root).mixed(recipe.name)
    stems = [f"ratio-{mix['ratio']:.2f}" for mix in MixManifest.read(mixed / "manifest.json").mixes]
    return [checkpoint_folder(recipe, read_records(mixed / f"{stem}.parquet"), stem, root) for stem in stems]


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/trained/<recipe>/<mix>/ (model + train_log.json) for every mix."""
    check_limit(limit, "train")
    from factory.train.seq2seq import train_detoxifier

    mixed = Layout(root).mixed(recipe.name)
    manifest = MixManifest.read(mixed / "manifest.json").raw
    out = Layout(root).trained(recipe.name)
    summaries = {}
    with atomic_dir(out) as tmp:
        for mix in manifest["mixes"]:
            stem = f"ratio-{mix['ratio']:.2f}"
            rows = read_records(mixed / f"{stem}.parquet")[:limit]
            checkpoints = checkpoint_folder(recipe, rows, stem, root)
            summaries[stem] = train_detoxifier(recipe, rows, tmp / stem, root=root, checkpoints=checkpoints)
        write_json(tmp / "summary.json", summaries)
    return out
