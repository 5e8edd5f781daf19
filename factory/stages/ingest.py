"""Stage `ingest`: read the recipe's human data and split it into train and test.

Sources: `seed` (the project's own seed corpus, factory/data/seed/pairs.tsv), a local
TSV/CSV/Parquet file, or a Hub dataset id (read with `datasets.load_dataset`). Every
non-empty neutral column of a row makes one (toxic, neutral) pair. The split is by toxic
sentence, so all paraphrases of one toxic sentence land in the same split and the test
split never leaks into training through a sibling paraphrase.

Nothing is dropped silently: data/human/<recipe>/report.json counts every malformed row,
skipped row or cell, duplicate pair and capped pair by reason, with the first examples and
their source line (or row) numbers. When more than `human.max_malformed_share` of the
source is malformed, the stage fails naming the file and the first bad lines.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError, check_limit
from factory.ingest_read import SourceRows, read_source
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, write_json, write_records
from factory.core.layout import Layout

SEED_DIR = Path(__file__).parent.parent / "data" / "seed"
EXAMPLES_PER_REASON = 5


class Tally:
    """Counts of skipped rows, cells and pairs by reason, with the first examples of each."""

    def __init__(self, unit: str = "line"):
        self.unit = unit
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[dict[str, Any]]] = {}

    def add(self, reason: str, at: int | None = None, detail: str = "") -> None:
        """Count one `reason` at source line/row `at` (None when unknown)."""
        self.counts[reason] = self.counts.get(reason, 0) + 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append({self.unit: at, "detail": detail} if detail else {self.unit: at})


def read_table(source: str, columns: list[str], hub_split: str = "train") -> SourceRows:
    """Read the rows of a human-data source (`seed`, a local file or a Hub id)."""
    return read_source(source, columns, hub_split, seed_file=SEED_DIR / "pairs.tsv")


def _check_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        raise FactoryError(f"{where}: contains a NUL byte")
    return value.strip()


def pairs_from_rows(table: SourceRows, recipe: Recipe, tally: Tally) -> list[Record]:
    """Turn table rows into unique pair records, counting every row, cell and pair left out."""
    spec = recipe.human
    records: list[Record] = []
    first_seen: dict[str, int] = {}
    for at, row in table.rows:
        where = f"{table.name}: {table.unit} {at}"
        toxic = _check_text(row[spec.toxic_column], f"{where}, column {spec.toxic_column!r}")
        if not toxic:
            tally.add("null_toxic" if toxic is None else "empty_toxic", at)
            continue
        neutrals = {c: _check_text(row[c], f"{where}, column {c!r}") for c in spec.neutral_columns}
        if not any(neutrals.values()):
            tally.add("no_neutral", at)
            continue
        for column, neutral in neutrals.items():
            if not neutral:
                tally.add("null_neutral" if neutral is None else "empty_neutral", at, f"column {column!r}")
                continue
            record = Record.make("pair", lang=spec.lang, toxic=toxic, neutral=neutral, source="human",
                                 recipe=recipe.name)
            if record.id in first_seen:
                tally.add("duplicate_pair", at, f"column {column!r}: same pair as {table.unit} {first_seen[record.id]}")
                continue
            first_seen[record.id] = at
            records.append(record)
    if not records:
        raise FactoryError(f"{table.name}: no (toxic, neutral) pairs found")
    return records


def check_malformed(table: SourceRows, max_share: float, tally: Tally) -> float:
    """Count the malformed rows; fail when they span more than `max_share` of the source. Return the share."""
    for problem in table.malformed:
        tally.add(problem.reason, problem.at, problem.detail)
    bad = sum(p.lines for p in table.malformed)
    share = bad / table.units if table.units else 0.0
    if share > max_share:
        first = "; ".join(f"{table.unit} {p.at}: {p.reason} ({p.detail})" for p in table.malformed[:3])
        raise FactoryError(f"{table.name}: {bad} of {table.units} data {table.unit}s malformed ({share:.1%} > "
                           f"human.max_malformed_share {max_share:.1%}); first: {first}"
                           + (f"; {table.note}" if table.note else ""))
    return share


def split_by_toxic(records: list[Record], test_fraction: float, seed: int, max_rows: int | None,
                   tally: Tally | None = None) -> list[Record]:
    """Assign train/test splits by toxic sentence (seeded); optionally cap the row count.

    Duplicate pairs are removed and pairs beyond `max_rows` left out; both are counted in `tally`.
    """
    tally = tally or Tally()
    seen: set[str] = set()
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.id in seen:
            tally.add("duplicate_pair", None, "same pair given twice")
            continue
        seen.add(record.id)
        groups.setdefault(record.toxic or "", []).append(record)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    if max_rows:
        kept = _first_keys_within(keys, groups, max_rows)
        for key in keys[len(kept):]:
            tally.counts["over_max_rows"] = tally.counts.get("over_max_rows", 0) + len(groups[key])
        keys = kept
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


def row_cap(max_rows: int | None, limit: int | None) -> int | None:
    """The smaller of `human.max_rows` and `--limit` (None when neither is set)."""
    caps = [cap for cap in (max_rows, limit) if cap is not None]
    return min(caps) if caps else None


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/human/<recipe>/{train,test}.parquet, stats.json and report.json; return the folder."""
    check_limit(limit, "ingest")
    spec = recipe.human
    table = read_table(spec.source, [spec.toxic_column, *spec.neutral_columns], spec.hub_split)
    tally = Tally(table.unit)
    share = check_malformed(table, spec.max_malformed_share, tally)
    made = pairs_from_rows(table, recipe, tally)
    records = split_by_toxic(made, spec.test_fraction, recipe.seed, row_cap(spec.max_rows, limit), tally)
    counts = {split: sum(r.split == split for r in records) for split in ("train", "test")}
    out = Layout(root).human(recipe.name)
    with atomic_dir(out) as tmp:
        for split in ("train", "test"):
            write_records(tmp / f"{split}.parquet", [r for r in records if r.split == split])
        write_json(tmp / "stats.json", {"source": spec.source, "pairs": len(records), **counts})
        write_json(tmp / "report.json", {
            "source": spec.source, "file": table.name, "read_as": table.read_as,
            f"data_{table.unit}s": table.units, "rows_read": len(table.rows) + len(table.malformed),
            "malformed_rows": len(table.malformed), "malformed_share": round(share, 6),
            "max_malformed_share": spec.max_malformed_share,
            "pairs_made": len(made), "pairs_written": len(records), **counts,
            "skipped": dict(sorted(tally.counts.items())), "examples": dict(sorted(tally.examples.items())),
        })
    return out
