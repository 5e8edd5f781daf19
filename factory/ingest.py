"""Stage `ingest`: read the recipe's human data and split it into train and test.

Sources: `seed` (the project's own seed corpus, factory/data/seed/pairs.tsv), a local
TSV/CSV/Parquet file, or a Hub dataset id (read with `datasets.load_dataset`). Every
non-empty neutral column of a row makes one (toxic, neutral) pair. The split is by toxic
sentence, so all paraphrases of one toxic sentence land in the same split and the test
split never leaks into training through a sibling paraphrase.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any, Iterable

from factory.errors import FactoryError
from factory.recipe import Recipe
from factory.records import Record, atomic_dir, read_parquet, write_json, write_records

SEED_DIR = Path(__file__).parent / "data" / "seed"


def _check_text(value: Any, where: str) -> str:
    text = "" if value is None else str(value)
    if "\x00" in text:
        raise FactoryError(f"{where}: contains a NUL byte")
    return text.strip()


def _read_delimited(path: Path) -> list[dict[str, Any]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle, delimiter=delimiter, quotechar='"'))
    except UnicodeDecodeError as exc:
        raise FactoryError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise FactoryError(f"{path}: cannot parse as {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}") from None


def read_table(source: str, hub_split: str = "train") -> tuple[str, list[dict[str, Any]]]:
    """Read the rows of a human-data source; return (display name, rows)."""
    if source == "seed":
        path = SEED_DIR / "pairs.tsv"
        return str(path), _read_delimited(path)
    path = Path(source).expanduser()
    if path.exists():
        suffix = path.suffix.lower()
        if suffix in (".tsv", ".csv"):
            return str(path), _read_delimited(path)
        if suffix == ".parquet":
            return str(path), read_parquet(path).to_pylist()
        raise FactoryError(f"{path}: unsupported file type {suffix!r} (use .tsv, .csv or .parquet)")
    from datasets import load_dataset

    try:
        return source, list(load_dataset(source, split=hub_split))
    except Exception as exc:  # datasets raises many types for a missing/offline dataset
        raise FactoryError(f"human.source: cannot load Hub dataset {source!r} ({type(exc).__name__}: {exc})") from None


def pairs_from_rows(name: str, rows: Iterable[dict[str, Any]], recipe: Recipe) -> list[Record]:
    """Turn table rows into pair records; error when a named column is missing."""
    spec = recipe.human
    records: list[Record] = []
    for number, row in enumerate(rows, start=1):
        for column in (spec.toxic_column, *spec.neutral_columns):
            if column not in row:
                raise FactoryError(f"{name}: row {number}: no column {column!r} (columns: {', '.join(row)})")
        toxic = _check_text(row[spec.toxic_column], f"{name}: row {number}, column {spec.toxic_column!r}")
        if not toxic:
            continue
        for column in spec.neutral_columns:
            neutral = _check_text(row[column], f"{name}: row {number}, column {column!r}")
            if neutral:
                records.append(Record.make("pair", lang=spec.lang, toxic=toxic, neutral=neutral,
                                           source="human", recipe=recipe.name))
    if not records:
        raise FactoryError(f"{name}: no (toxic, neutral) pairs found")
    return records


def split_by_toxic(records: list[Record], test_fraction: float, seed: int, max_rows: int | None) -> list[Record]:
    """Assign train/test splits by toxic sentence (seeded); optionally cap the row count."""
    seen: dict[str, None] = {}
    unique = [r for r in records if not (r.id in seen or seen.setdefault(r.id, None))]
    groups: dict[str, list[Record]] = {}
    for record in unique:
        groups.setdefault(record.toxic or "", []).append(record)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    if max_rows:
        keys = _first_keys_within(keys, groups, max_rows)
    n_test = round(len(keys) * test_fraction) if len(keys) > 1 else 0
    out: list[Record] = []
    for index, key in enumerate(keys):
        group_id = groups[key][0].id
        for record in groups[key]:
            record.split, record.group = ("test" if index < n_test else "train"), group_id
            out.append(record)
    return out


def _first_keys_within(keys: list[str], groups: dict[str, list[Record]], max_rows: int) -> list[str]:
    taken, total = [], 0
    for key in keys:
        if total >= max_rows:
            break
        taken.append(key)
        total += len(groups[key])
    return taken


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/human/<recipe>/{train,test}.parquet and stats.json; return the folder."""
    name, rows = read_table(recipe.human.source, recipe.human.hub_split)
    records = split_by_toxic(pairs_from_rows(name, rows, recipe), recipe.human.test_fraction,
                             recipe.seed, recipe.human.max_rows or limit)
    out = Path(root) / "human" / recipe.name
    with atomic_dir(out) as tmp:
        for split in ("train", "test"):
            write_records(tmp / f"{split}.parquet", [r for r in records if r.split == split])
        write_json(tmp / "stats.json", {
            "source": recipe.human.source,
            "pairs": len(records),
            "train": sum(r.split == "train" for r in records),
            "test": sum(r.split == "test" for r in records),
        })
    return out
