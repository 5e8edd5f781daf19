"""Read the rows of a human-data source without losing or altering any silently.

`read_source` returns every data row with its place in the source (line number of a
TSV/CSV file, row number of a Parquet file or Hub split) and, separately, every
malformed row with the reason it cannot be trusted. The ingest stage counts both.

TSV quoting. ParaDetox-style TSV files are written by tools that quote cells RFC 4180
style (a cell holding a line break or a `"` is wrapped in quotes, inner quotes doubled),
but many hand-made TSV files hold literal `"` characters: `"Shut up" he said`. Read
with quoting, such a cell loses its quotes, and a cell that *starts* with an unclosed
`"` swallows every following row up to the next quote. So a TSV file that holds a `"`
is read both ways, and the reading that leaves fewer source lines malformed wins; on a
tie the file is read without quoting (QUOTE_NONE), since then no cell needed quoting
and every `"` survives as written. A CSV file is always read with RFC 4180 quoting.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from factory.core.errors import FactoryError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a swallowed cell must be reported, not crash the reader
QUOTED, UNQUOTED = "rfc4180", "none"


@dataclass
class Problem:
    """A malformed source row: where it starts, how many source lines it spans, why."""

    at: int
    reason: str
    detail: str
    lines: int = 1


@dataclass
class SourceRows:
    """The data rows of a source, its malformed rows, and how it was read.

    `unit` is "line" for TSV/CSV (`Row.at` and `Problem.at` are 1-based source line
    numbers, the header is line 1) and "row" for Parquet and Hub data (1-based row
    numbers). `units` is the number of data lines (blank lines excluded) or rows. `note`
    tells, for error messages, how the source was read when that was a choice.
    """

    name: str
    unit: str
    units: int
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    malformed: list[Problem] = field(default_factory=list)
    read_as: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass
class _Record:
    at: int
    lines: int
    raw: str
    cells: list[str]


def read_source(source: str, columns: Sequence[str], hub_split: str = "train",
                seed_file: Path | None = None, field: str = "human.source") -> SourceRows:
    """Read `source` (a local TSV/CSV/Parquet file, or a Hub id); require `columns`.

    `field` names the recipe field in the error for a Hub dataset that cannot be loaded."""
    path = seed_file if source == "seed" and seed_file else Path(source).expanduser()
    if path.exists():
        suffix = path.suffix.lower()
        if suffix in (".tsv", ".csv"):
            return read_delimited(path, columns)
        if suffix == ".parquet":
            from factory.core.records import read_parquet

            return _table_rows(str(path), "parquet", read_parquet(path), columns)
        raise FactoryError(f"{path}: unsupported file type {suffix!r} (use .tsv, .csv or .parquet)")
    return _hub_rows(source, hub_split, columns, field)


def read_delimited(path: Path, columns: Sequence[str]) -> SourceRows:
    """Read a TSV or CSV file (UTF-8, BOM allowed), choosing the TSV quoting as the module explains."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FactoryError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if delimiter == ",":
        return _checked_reading(path, text, delimiter, QUOTED, columns, "CSV is read with RFC 4180 quoting")
    if '"' not in text:
        return _checked_reading(path, text, delimiter, UNQUOTED, columns, "no quote character in the file")
    quoted = _try_reading(path, text, delimiter, QUOTED, columns)
    unquoted = _try_reading(path, text, delimiter, UNQUOTED, columns)
    if isinstance(quoted, FactoryError) and isinstance(unquoted, FactoryError):
        raise quoted
    bad_quoted, bad_unquoted = _bad_lines(quoted), _bad_lines(unquoted)
    chosen, other = (quoted, unquoted) if bad_quoted < bad_unquoted else (unquoted, quoted)
    assert isinstance(chosen, SourceRows)
    chosen.read_as["why"] = (f"read both ways: {bad_quoted} malformed lines with quoting, {bad_unquoted} without "
                             "(the reading with fewer wins; a tie reads quotes as literal characters)")
    chosen.note = (f"read {'with' if chosen is quoted else 'without'} quoting, which leaves fewer malformed lines "
                   f"than the other reading ({_first_problem(other)})")
    return chosen


def _first_problem(reading: SourceRows | FactoryError) -> str:
    if isinstance(reading, FactoryError):
        return str(reading)
    if not reading.malformed:
        return "none"
    first = reading.malformed[0]
    return f"{_bad_lines(reading):.0f} lines, first: line {first.at}: {first.reason}"


def _bad_lines(reading: SourceRows | FactoryError) -> float:
    return float("inf") if isinstance(reading, FactoryError) else sum(p.lines for p in reading.malformed)


def _try_reading(path: Path, text: str, delimiter: str, quoting: str,
                 columns: Sequence[str]) -> SourceRows | FactoryError:
    try:
        return _checked_reading(path, text, delimiter, quoting, columns, "")
    except FactoryError as exc:
        return exc


def _checked_reading(path: Path, text: str, delimiter: str, quoting: str, columns: Sequence[str],
                     why: str) -> SourceRows:
    kind = "TSV" if delimiter == "\t" else "CSV"
    records = _parse(path, text, delimiter, quoting, kind)
    if not records:
        raise FactoryError(f"{path}: empty file (no header line)")
    header, data = records[0].cells, records[1:]
    _check_header(str(path), header, columns)
    out = SourceRows(name=str(path), unit="line", units=sum(r.lines for r in data),
                     read_as={"format": kind.lower(), "quoting": quoting, "why": why})
    for record in data:
        problem = _record_problem(record, len(header), delimiter, quoting)
        if problem:
            out.malformed.append(problem)
        else:
            out.rows.append((record.at, dict(zip(header, record.cells))))
    return out


def _parse(path: Path, text: str, delimiter: str, quoting: str, kind: str) -> list[_Record]:
    """Split `text` into records, each with its first source line, line span and raw text."""
    consumed: list[str] = []

    def lines():
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"',
                        quoting=csv.QUOTE_MINIMAL if quoting == QUOTED else csv.QUOTE_NONE)
    records, start = [], 1
    try:
        for cells in reader:
            if cells:  # a blank line holds no row
                records.append(_Record(start, reader.line_num - start + 1, "".join(consumed), cells))
            consumed.clear()
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FactoryError(f"{path}: line {start}: cannot parse as {kind}: {exc}") from None
    return records


def _check_header(name: str, header: list[str], columns: Sequence[str]) -> None:
    for column in columns:
        if column not in header:
            raise FactoryError(f"{name}: no column {column!r} (columns: {', '.join(header)})")
        if header.count(column) > 1:
            raise FactoryError(f"{name}: column {column!r} appears {header.count(column)} times in the header")


def _record_problem(record: _Record, width: int, delimiter: str, quoting: str) -> Problem | None:
    """Why `record` cannot be trusted, or None when it is a well-formed row."""
    cells = record.cells
    while len(cells) > width and not cells[-1].strip():
        cells = cells[:-1]  # trailing empty fields (a trailing separator) hold no data
    if quoting == QUOTED:
        problem = _quoting_problem(record, delimiter) or _swallow_problem(record, width, delimiter)
    else:
        problem = _escaped_quote_problem(record)
    if problem is None and len(cells) != width:
        reason = "too_few_fields" if len(cells) < width else "too_many_fields"
        problem = Problem(record.at, reason, f"{len(cells)} field(s), the header has {width}", record.lines)
    record.cells = cells
    return problem


def _quoting_problem(record: _Record, delimiter: str) -> Problem | None:
    """A record whose quotes do not follow RFC 4180 (text after a closing quote, a quote never closed)."""
    if '"' not in record.raw:
        return None
    try:
        list(csv.reader(io.StringIO(record.raw, newline=""), delimiter=delimiter, quotechar='"', strict=True))
    except csv.Error as exc:
        span = f" (the cell runs over lines {record.at}-{record.at + record.lines - 1})" if record.lines > 1 else ""
        what = "a quote is never closed" if "unexpected end" in str(exc) else f"bad quoting: {exc}"
        return Problem(record.at, "bad_quoting", what + span, record.lines)
    return None


def _swallow_problem(record: _Record, width: int, delimiter: str) -> Problem | None:
    """A cell that spans lines and holds what looks like further rows of the file.

    A sentence never holds a tab, so a TSV cell with one swallowed a separator. A CSV cell
    may hold commas, but not, after a line break, a line with as many commas as a row has.
    """
    for cell in record.cells:
        if "\n" not in cell and "\r" not in cell:
            continue
        later_lines = cell.splitlines()[1:]
        if (delimiter == "\t" and "\t" in cell) or any(
                line.count(delimiter) >= max(1, width - 1) for line in later_lines):
            last = record.at + record.lines - 1
            return Problem(record.at, "swallowed_rows", f"a quoted cell spans lines {record.at}-{last} and holds "
                           "field separators: an unclosed quote swallowed the rows after it", record.lines)
    return None


def _escaped_quote_problem(record: _Record) -> Problem | None:
    """In a reading without quoting, a cell written RFC 4180 style (`"a ""b"" c"`) is misread."""
    for cell in record.cells:
        inner = cell[1:-1]
        if len(cell) > 2 and cell[0] == cell[-1] == '"' and '""' in inner and '"' not in inner.replace('""', ""):
            return Problem(record.at, "quoted_cell_read_literally",
                           "a cell is written with RFC 4180 quotes (doubled inner quotes) in a file read without "
                           "quoting", record.lines)
    return None


def _table_rows(name: str, kind: str, table: Any, columns: Sequence[str]) -> SourceRows:
    """The rows of a pyarrow table (Parquet file or Hub split); text columns only."""
    import pyarrow as pa

    for column in columns:
        if column not in table.column_names:
            raise FactoryError(f"{name}: no column {column!r} (columns: {', '.join(table.column_names)})")
        kind_of = table.schema.field(column).type
        value_type = kind_of.value_type if pa.types.is_dictionary(kind_of) else kind_of
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type) or pa.types.is_null(value_type)):
            raise FactoryError(f"{name}: column {column!r} holds {kind_of} values, not text")
    rows = table.select(list(dict.fromkeys(columns))).to_pylist()
    return SourceRows(name=name, unit="row", units=len(rows), rows=list(enumerate(rows, start=1)),
                      read_as={"format": kind})


def _hub_rows(source: str, hub_split: str, columns: Sequence[str], field: str = "human.source") -> SourceRows:
    from datasets import load_dataset

    try:
        dataset = load_dataset(source, split=hub_split)
    except Exception as exc:  # datasets raises many types for a missing/offline dataset
        raise FactoryError(f"{field}: cannot load Hub dataset {source!r} ({type(exc).__name__}: {exc})") from None
    return _table_rows(f"{source} (split {hub_split})", "hub", dataset.with_format("arrow")[:], columns)
