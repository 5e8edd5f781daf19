"""The one row type that every stage passes along, and its Parquet storage.

A `Record` is either a parallel pair (`toxic`, `neutral`) or a free `text`. Scores and
decisions travel in `attributes` (a flat dict of JSON scalars); a dropped row keeps its
place in the output with `drop_reason` set (and `drop_ref`, the id of the row it
duplicated, where there is one), so a user can always see what was removed and why.

Row ids are content hashes, so the same content gets the same id in every run, resume
and machine. `group` ties together rows that are versions of one item (the language
versions of one pair, or the source row a generation came from).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from factory.core.errors import FactoryError
from factory.core.upstream import require_file
from factory.core.outputs import atomic_dir, atomic_file  # noqa: F401  (stages import them from here)

RowKind = Literal["pair", "text"]
Scalar = str | int | float | bool | None

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("lang", pa.string()),
        ("text", pa.string()),
        ("toxic", pa.string()),
        ("neutral", pa.string()),
        ("source", pa.string()),
        ("recipe", pa.string()),
        ("split", pa.string()),
        ("group", pa.string()),
        ("drop_reason", pa.string()),
        ("drop_ref", pa.string()),
        ("attributes", pa.string()),
    ]
)


def content_id(*parts: str | None) -> str:
    """Return a stable 16-hex-digit id for the given content parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(b"\x00" if part is None else part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:16]


@dataclass
class Record:
    """One row: a (toxic, neutral) pair or a free text, with provenance and scores.

    Fields:
        id: stable content hash (see `Record.make`).
        kind: "pair" for parallel (toxic, neutral) rows, "text" for free text.
        lang: ISO 639-1 language code.
        text: the free text of a "text" row.
        toxic / neutral: the two sides of a "pair" row.
        source: where the row came from: "human", or "synthetic:<recipe kind>".
        recipe: name of the recipe that produced or imported the row.
        split: "train", "test" or "" (not yet split).
        group: id shared by versions of one item (source row, or pair across languages).
        drop_reason: None while the row is kept; else why it was dropped.
        drop_ref: id of the row this one duplicated or was judged against, if any.
        attributes: scores and metadata, a flat dict of JSON scalars.
    """

    id: str
    kind: RowKind
    lang: str = "en"
    text: str | None = None
    toxic: str | None = None
    neutral: str | None = None
    source: str = "human"
    recipe: str = ""
    split: str = ""
    group: str = ""
    drop_reason: str | None = None
    drop_ref: str | None = None
    attributes: dict[str, Scalar] = field(default_factory=dict)

    @classmethod
    def make(cls, kind: RowKind, *, lang: str = "en", text: str | None = None,
             toxic: str | None = None, neutral: str | None = None, **rest: Any) -> "Record":
        """Build a record whose id is the hash of its kind, language and content."""
        if kind == "pair" and (toxic is None or neutral is None):
            raise ValueError("a pair record needs both toxic and neutral")
        if kind == "text" and text is None:
            raise ValueError("a text record needs text")
        rid = content_id(kind, lang, text, toxic, neutral)
        return cls(id=rid, kind=kind, lang=lang, text=text, toxic=toxic, neutral=neutral, **rest)

    @property
    def kept(self) -> bool:
        """True unless a filter dropped this row."""
        return self.drop_reason is None

    def drop(self, reason: str, ref: str | None = None) -> "Record":
        """Mark the row dropped with `reason` (first reason wins); return self."""
        if self.drop_reason is None:
            self.drop_reason, self.drop_ref = reason, ref
        return self

    def content(self) -> str:
        """The text that dedupe and diversity look at: `text`, or the synthetic side of a pair."""
        if self.kind == "text":
            return self.text or ""
        side = self.attributes.get("synthetic_side")
        if side == "neutral":
            return self.neutral or ""
        return self.toxic or ""


def records_to_table(records: Iterable[Record]) -> pa.Table:
    """Convert records to an Arrow table with the project schema (column by column, no per-row dicts)."""
    records = list(records)
    columns: dict[str, list[Any]] = {name: [getattr(r, name) for r in records] for name in SCHEMA.names}
    columns["attributes"] = [json.dumps(a, sort_keys=True, ensure_ascii=False) for a in columns["attributes"]]
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def table_to_records(table: pa.Table) -> list[Record]:
    """Convert an Arrow table with the project schema back to records."""
    columns = table.to_pydict()
    if list(columns) != SCHEMA.names:  # a table of other columns: by name, missing fields take their defaults
        return [Record(**{**row, "attributes": json.loads(row.get("attributes") or "{}")}) for row in table.to_pylist()]
    attributes = [json.loads(a or "{}") for a in columns.pop("attributes")]
    # SCHEMA lists Record's fields in their order, so the columns fill them by position
    return [Record(*values, attrs) for *values, attrs in zip(*columns.values(), attributes)]


def write_records(path: Path, records: Iterable[Record]) -> Path:
    """Write records to a Parquet file atomically (temp file, then rename)."""
    table = records_to_table(records)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_parquet(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """Read a Parquet file; a missing, truncated or foreign file is a `FactoryError` naming it."""
    path = require_file(path)
    try:
        return pq.read_table(path, schema=schema)
    except (pa.ArrowException, OSError) as exc:
        raise FactoryError(f"{path}: not a readable Parquet file{' of records' if schema else ''} "
                           f"({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"^Could not open Parquet input source '.*?': ", "", str(exc).strip()).splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_records(path: Path, *, kept_only: bool = False) -> list[Record]:
    """Read records from a Parquet file; with `kept_only`, skip dropped rows."""
    records = table_to_records(read_parquet(path, schema=SCHEMA))
    return [r for r in records if r.kept] if kept_only else records


def iter_batches(path: Path, batch_size: int = 10_000) -> Iterator[list[Record]]:
    """Yield records from a Parquet file in batches, without loading it whole."""
    path = require_file(path)
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=batch_size)
        for batch in batches:
            yield table_to_records(pa.Table.from_batches([batch]))
    except (pa.ArrowException, OSError) as exc:
        raise FactoryError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as pretty JSON atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def read_json(path: Path) -> Any:
    """Read a JSON file; a missing or malformed file is a `FactoryError` naming it."""
    path = require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FactoryError(f"{path}: not valid JSON ({exc})") from None
