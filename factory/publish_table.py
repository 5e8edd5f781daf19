"""The Parquet tables of a release: project columns, with `attributes` as a typed struct.

Inside the pipeline `attributes` is a JSON string (a flat dict of JSON scalars whose keys
differ between rows). A release turns it into a Parquet struct, so the Hub's viewer and
`datasets` show one typed sub-column per key: the struct has the union of the keys of every
row of the release (all splits, so that every shard has one schema), a key a row lacks is
null, and each key is typed by its values (bool, int64, float64, else string).

Content columns that no row of the release uses are left out (`text` in a pair release,
`toxic` and `neutral` in a text release).
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from factory.core.records import SCHEMA, Record

CONTENT_COLUMNS = {"pair": ("toxic", "neutral"), "text": ("text",)}
"""The columns holding the content of each row kind."""


def attribute_type(values: Sequence[Any]) -> pa.DataType:
    """The Arrow type of one attribute key from its (non-null) values: bool, int64, float64, else string."""
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    return pa.string()


def attributes_type(records: Sequence[Record]) -> pa.StructType:
    """The struct type of `attributes` over `records`: the union of their keys (sorted), each typed by value."""
    values: dict[str, list[Any]] = {}
    for record in records:
        for key, value in record.attributes.items():
            values.setdefault(key, []).append(value)
    return pa.struct([pa.field(key, attribute_type(values[key])) for key in sorted(values)])


def _cell(value: Any, kind: pa.DataType) -> Any:
    """`value` as a cell of type `kind`: strings of a mixed-type key hold the JSON text of non-strings."""
    if value is None or not pa.types.is_string(kind) or isinstance(value, str):
        return value
    return json.dumps(value)


def release_columns(records: Sequence[Record]) -> list[str]:
    """The project columns a release keeps: all but the content columns of a row kind no row has."""
    kinds = {r.kind for r in records}
    unused = {c for kind, columns in CONTENT_COLUMNS.items() if kind not in kinds for c in columns}
    return [name for name in SCHEMA.names if name not in unused]


def release_schema(records: Sequence[Record]) -> pa.Schema:
    """The Arrow schema of every shard of a release made of `records` (all splits together)."""
    struct = attributes_type(records)
    fields = [SCHEMA.field(name) for name in release_columns(records) if name != "attributes"]
    if struct.num_fields:  # Parquet cannot store a struct without fields
        fields.append(pa.field("attributes", struct))
    return pa.schema(fields)


def release_table(records: Sequence[Record], schema: pa.Schema) -> pa.Table:
    """`records` as an Arrow table of `schema` (from `release_schema`)."""
    struct = schema.field("attributes").type if "attributes" in schema.names else None
    rows = []
    for record in records:
        row = {name: getattr(record, name) for name in schema.names if name != "attributes"}
        if struct is not None:
            row["attributes"] = {f.name: _cell(record.attributes.get(f.name), f.type) for f in struct}
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def write_shards(folder: Any, split: str, records: Sequence[Record], shard_rows: int, schema: pa.Schema) -> list[str]:
    """Write non-empty `records` as `data/<split>-0000i-of-0000n.parquet`; return the file names."""
    count = math.ceil(len(records) / shard_rows)
    names = []
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"data/{split}-{index:05d}-of-{count:05d}.parquet"
        pq.write_table(release_table(records[index * shard_rows : (index + 1) * shard_rows], schema), folder / name)
        names.append(name)
    return names
