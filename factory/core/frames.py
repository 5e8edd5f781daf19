"""Rows as tables: record Parquet files read into polars frames and written back with the project schema.

Stages that only select, join, count or reorder rows (mix, report counts) work on these frames
instead of lists of `Record` objects, so no row is turned into a Python object. A frame keeps
the stored `attributes` JSON string as it is; the files the stages write with `write_records`
hold it in canonical form (sorted keys), so a row read here and written back is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from factory.core.outputs import atomic_file
from factory.core.records import SCHEMA, read_parquet


def read_frame(path: Path, *, kept_only: bool = False) -> pl.DataFrame:
    """A record Parquet file as a polars frame (project columns, file order); `kept_only` skips dropped rows."""
    frame = pl.DataFrame(read_parquet(path, schema=SCHEMA))
    return frame.filter(pl.col("drop_reason").is_null()) if kept_only else frame


def write_frame(path: Path, frame: pl.DataFrame) -> Path:
    """Write a record frame to Parquet atomically, with the project schema (as `write_records` does)."""
    table = frame.select(SCHEMA.names).to_arrow().cast(SCHEMA)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path


def count_by(frame: pl.DataFrame, column: str, *, null_as: str) -> dict[str, int]:
    """Rows per value of `column` (nulls counted under `null_as`), sorted by value."""
    counts = frame.select(pl.col(column).fill_null(null_as)).to_series().value_counts()
    return dict(sorted(zip(counts[column].to_list(), counts["count"].to_list())))
