"""Inputs of the `translate` kind: source pairs to translate, and human pairs read directly.

- Source pairs: the human train split (data/human/<recipe>/train.parquet), or the kept
  pairs of a factory-made corpus (`translate.corpus`), plus up to `max_test_pairs` pairs
  of the human test split. Their language is `human.lang`.
- Parallel pairs (`translate.parallel`): human pairs already written in a target language,
  from a folder of multilingual ParaDetox pair files (`<lang>_train_toxic.csv` and
  `<lang>_train_neutral.csv`, one CSV cell per line, no header, row-aligned), the bundled
  fixture, or a Hub dataset with one split per language. Each language's pairs are split
  into train and test by a seeded shuffle (`human.test_fraction`); `group` is the pair's
  own id. Empty cells are kept, so that the checks drop them with a reason.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError
from factory.recipe import Recipe
from factory.core.records import Record, read_records
from factory.core.layout import Layout

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "data" / "multilingual"
"""The bundled tiny German and Spanish pairs (`translate.parallel: fixture`)."""


def read_cells(path: Path) -> list[str]:
    """The first cell of every line of a header-less CSV file, stripped."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return [(row[0] if row else "").strip() for row in csv.reader(handle)]
    except UnicodeDecodeError as exc:
        raise FactoryError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise FactoryError(f"{path}: cannot parse as CSV: {exc}") from None


def read_pair_files(folder: Path, lang: str) -> list[tuple[str, str]]:
    """(toxic, neutral) pairs of `<lang>_train_{toxic,neutral}.csv` in `folder` ([] when absent)."""
    toxic_path, neutral_path = folder / f"{lang}_train_toxic.csv", folder / f"{lang}_train_neutral.csv"
    if not toxic_path.exists() and not neutral_path.exists():
        return []
    for path in (toxic_path, neutral_path):
        if not path.exists():
            raise FactoryError(f"{path}: missing (its partner file exists; the two files are row-aligned pairs)")
    toxic, neutral = read_cells(toxic_path), read_cells(neutral_path)
    if len(toxic) != len(neutral):
        raise FactoryError(f"{toxic_path} has {len(toxic)} rows but {neutral_path} has {len(neutral)}; "
                           "the two files must be row-aligned pairs")
    return list(zip(toxic, neutral))


def _hub_pairs(dataset_id: str, lang: str, columns: tuple[str, str]) -> list[tuple[str, str]]:
    from datasets import load_dataset

    try:
        rows: list[dict[str, Any]] = list(load_dataset(dataset_id, split=lang))
    except Exception as exc:  # datasets raises many types for missing or offline datasets
        raise FactoryError(f"translate.parallel: cannot load split {lang!r} of Hub dataset {dataset_id!r} "
                           f"({type(exc).__name__}: {exc})") from None
    for column in columns:
        if rows and column not in rows[0]:
            raise FactoryError(f"translate.parallel: {dataset_id} split {lang} has no column {column!r} "
                               f"(columns: {', '.join(rows[0])}); set translate.parallel_columns")
    return [(str(r[columns[0]] or "").strip(), str(r[columns[1]] or "").strip()) for r in rows]


def parallel_pairs(recipe: Recipe, lang: str) -> list[tuple[str, str]]:
    """The `translate.parallel` pairs of one language (seeded shuffle, capped)."""
    settings = recipe.translate
    source = settings.parallel
    if source is None:
        return []
    folder = FIXTURE_DIR if source == "fixture" else Path(source).expanduser()
    pairs = read_pair_files(folder, lang) if folder.is_dir() else _hub_pairs(source, lang, settings.parallel_columns)
    pairs = list(dict.fromkeys(pairs))
    random.Random(f"{recipe.seed}:{lang}").shuffle(pairs)
    return pairs[: settings.parallel_max_pairs] if settings.parallel_max_pairs else pairs


def parallel_records(recipe: Recipe, lang: str) -> list[Record]:
    """The `parallel` pairs of `lang` as human records, split into train and test."""
    pairs = parallel_pairs(recipe, lang)
    n_test = round(len(pairs) * recipe.human.test_fraction) if len(pairs) > 1 else 0
    records = []
    for index, (toxic, neutral) in enumerate(pairs):
        record = Record.make("pair", lang=lang, toxic=toxic, neutral=neutral, source="human", recipe=recipe.name,
                             split="test" if index < n_test else "train")
        record.group = record.id
        record.attributes = {"synthetic_side": "toxic", "translated": False}
        records.append(record)
    return records


def _corpus_file(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [path / "rows.parquet"] if (path / "rows.parquet").exists() else sorted(path.glob("data/train-*.parquet"))
    if not files:
        raise FactoryError(f"translate.corpus: {path} holds neither rows.parquet nor data/train-*.parquet")
    return files


def source_pairs(recipe: Recipe, root: Path, limit: int | None) -> list[Record]:
    """The source pairs to translate: train ones (capped by `limit`), then test ones."""
    human = Layout(root).human(recipe.name)
    if recipe.translate.corpus:
        train = [r for f in _corpus_file(Path(recipe.translate.corpus)) for r in read_records(f, kept_only=True)]
        train = [r for r in train if r.kind == "pair" and r.lang == recipe.human.lang]
        for record in train:
            record.split = "train"
    else:
        train = read_records(human / "train.parquet")
    test = read_records(human / "test.parquet")
    random.Random(recipe.seed).shuffle(train)
    cap = limit or recipe.generate.max_inputs
    test_cap = recipe.translate.max_test_pairs
    return (train[:cap] if cap else train) + (test[:test_cap] if test_cap is not None else test)
