"""Training step of the cross-lingual grid: one reference detoxifier per train setting.

A setting names the languages it trains on (`de`: cross-lingual transfer from German;
`en+de+es`: multilingual). Its training set is the union of each language's rows
(`factory.crosslingual.language_rows`), shuffled with the recipe seed; the model is the
recipe's `models.detoxifier` fine-tuned with the recipe's `train` settings, exactly as
the mixing study trains it. Writes data/grid/<recipe>/trained/<setting>/ (model/ and
setting.json: rows per language, steps, losses). Checkpoints live under
data/cache/<recipe>/grid/ so an interrupted run resumes.
"""

from __future__ import annotations

import random
from pathlib import Path

from factory import crosslingual
from factory.core.errors import FactoryError
from factory.recipe import Recipe
from factory.recipe.translate import setting_languages
from factory.core.records import Record, atomic_dir, write_json
from factory.core.layout import Layout


def setting_rows(recipe: Recipe, root: Path, setting: str) -> tuple[list[Record], dict[str, int]]:
    """The training rows of `setting` (seeded order) and their count per language."""
    rows: list[Record] = []
    counts = {}
    for lang in setting_languages(setting):
        found = crosslingual.language_rows(recipe, root, lang, "train")
        counts[lang] = len(found)
        rows += found
    if not rows:
        raise FactoryError(f"{recipe.path or recipe.name}: grid setting {setting!r} has no kept training rows "
                           f"(per language: {counts}); check the generate and filter outcomes")
    random.Random(f"{recipe.seed}:{setting}").shuffle(rows)
    return rows, counts


def checkpoint_folder(recipe: Recipe, setting: str, rows: list[Record], root: Path) -> Path:
    """Where training `setting` on `rows` keeps its checkpoints: <root>/cache/<recipe>/grid/<setting>-<fingerprint>."""
    from factory.train.pairs import run_fingerprint

    return Layout(root).cache(recipe.name) / "grid" / f"{setting}-{run_fingerprint(recipe, rows, Path(root))}"


def current_checkpoints(recipe: Recipe, root: Path = Path("data")) -> list[Path]:
    """The checkpoint folders `train_all` (without a limit) would use now (for `factory clean`)."""
    settings = recipe.grid.train if recipe.grid else []
    return [checkpoint_folder(recipe, setting, setting_rows(recipe, Path(root), setting)[0], root)
            for setting in settings]


def train_setting(recipe: Recipe, setting: str, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Train the detoxifier of one setting into data/grid/<recipe>/trained/<setting>/."""
    from factory.train.seq2seq import train_detoxifier

    crosslingual.require_setting(recipe, setting)
    rows, counts = setting_rows(recipe, Path(root), setting)
    rows = rows[:limit] if limit else rows
    checkpoints = checkpoint_folder(recipe, setting, rows, root)
    out = crosslingual.trained_dir(root, recipe, setting)
    with atomic_dir(out) as tmp:
        summary = train_detoxifier(recipe, rows, tmp / "model", root=root, checkpoints=checkpoints)
        write_json(tmp / "setting.json", {"setting": setting, "rows_per_language": counts, **summary})
    return out


def train_all(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> list[Path]:
    """Train every setting of `grid.train`."""
    return [train_setting(recipe, setting, root=root, limit=limit) for setting in recipe.grid.train]
