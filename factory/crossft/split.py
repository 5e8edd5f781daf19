"""The per-language split of Breaking mBad, and the readers of the sources it splits.

The reference (`embeddings/data_samples/data_samples.py`, `scripts/10_DPO_aya_8.py` of
himanshubeniwal/Breaking-mBad) shuffles each language's split of `textdetox/multilingual_paradetox`
with `datasets.Dataset.shuffle(seed=42)` and takes rows 0-299 as train, rows 300-399 as test.
`split_pairs` does exactly that through `datasets`, so the same rows are selected; it never
drops a row (empty sides are counted by `empty_sides`, not removed: removing rows before the
shuffle would select different rows than the reference).

Data shares (10/20/30%) follow `scripts/11_finetune_all_percentage.py`: one legacy numpy
generator seeded 42 per share draws int(share * 300) train rows per language without
replacement, languages in the recipe's order (the reference's: en es de zh ar hi uk ru am);
share 1 is the whole train split (`share_rows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from factory.core.errors import FactoryError

Pair = tuple[str, str]
"""(toxic, neutral)."""


@dataclass
class LanguageSplit:
    """One language's train and test pairs and where they came from."""

    lang: str
    source: str
    rows: int
    train: list[Pair]
    test: list[Pair]


def shuffled_order(rows: int, seed: int) -> list[int]:
    """The row order `datasets.Dataset.shuffle(seed=seed)` gives a dataset of `rows` rows."""
    from datasets import Dataset

    return list(Dataset.from_dict({"index": list(range(rows))}).shuffle(seed=seed)["index"])


def split_pairs(pairs: Sequence[Pair], seed: int, train_rows: int, test_rows: int, where: str) -> tuple[list[Pair],
                                                                                                          list[Pair]]:
    """(train, test): rows [0, train_rows) and [train_rows, train_rows + test_rows) of the seeded shuffle."""
    needed = train_rows + test_rows
    if len(pairs) < needed:
        raise FactoryError(f"{where}: {len(pairs)} pairs, fewer than train_rows + test_rows = {needed}")
    order = shuffled_order(len(pairs), seed)
    return [tuple(pairs[i]) for i in order[:train_rows]], [tuple(pairs[i]) for i in order[train_rows:needed]]


def share_rows(train: dict[str, list[Pair]], share: float, seed: int) -> dict[str, list[Pair]]:
    """Each language's rows of a data share: all of them at share 1, else a draw of int(share * n)
    rows by `numpy.random.RandomState(seed).choice(n, size, replace=False)`, one generator for every
    language in `train`'s order (as the reference's global `np.random.seed(42)`); at least one row."""
    import numpy as np

    if share >= 1.0:
        return {lang: list(rows) for lang, rows in train.items()}
    generator = np.random.RandomState(seed)
    chosen = {}
    for lang, rows in train.items():
        size = max(1, math.floor(share * len(rows) + 1e-9)) if rows else 0
        chosen[lang] = [rows[i] for i in generator.choice(len(rows), size=size, replace=False)] if size else []
    return chosen


def empty_sides(pairs: Sequence[Pair]) -> int:
    """How many pairs have an empty toxic or neutral side."""
    return sum(1 for toxic, neutral in pairs if not toxic.strip() or not neutral.strip())


def hub_pairs(dataset_id: str, lang: str, columns: Pair, revision: str | None, where: str) -> list[Pair]:
    """All (toxic, neutral) rows of split `lang` of a Hub dataset, in the dataset's order."""
    from datasets import load_dataset

    try:
        data = load_dataset(dataset_id, split=lang, revision=revision)
    except Exception as exc:  # datasets raises many types for missing or offline datasets
        raise FactoryError(f"{where}: cannot load split {lang!r} of Hub dataset {dataset_id!r} "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    missing = [c for c in columns if c not in data.column_names]
    if missing:
        raise FactoryError(f"{where}: {dataset_id} split {lang} has no column {missing[0]!r} "
                           f"(columns: {', '.join(data.column_names)})")
    return [(str(t or "").strip(), str(n or "").strip()) for t, n in zip(data[columns[0]], data[columns[1]])]


def folder_pairs(folder: Path, lang: str, where: str) -> list[Pair]:
    """The row-aligned pairs of `<lang>_train_toxic.csv` and `<lang>_train_neutral.csv` in `folder`."""
    from factory.generate.translate_sources import read_pair_files

    pairs = read_pair_files(folder, lang)
    if not pairs:
        raise FactoryError(f"{where}: {folder} has no {lang}_train_toxic.csv / {lang}_train_neutral.csv")
    return pairs


def seed_pairs(path: Path) -> list[Pair]:
    """The project's English seed pairs (a `toxic<TAB>neutral` file)."""
    from factory.models.zoo_text import read_pairs

    return read_pairs(path)
