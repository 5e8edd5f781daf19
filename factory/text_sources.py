"""Read the texts and pairs that recipes name outside the human data (`factory.recipe.sources`).

Rows come back in stored order (the order of the file or Hub split), with every row left out
counted by reason: `malformed` (a broken TSV/CSV line, see `factory.ingest_read`) or `empty`
(an empty or missing cell). A source with nothing usable is an error naming the field.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from factory.core.errors import FactoryError
from factory.ingest_read import read_source
from factory.recipe.sources import PairSource, TextSource


def _cell(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def read_texts(spec: TextSource, field: str) -> tuple[list[str], dict[str, int]]:
    """The non-empty texts of `spec.column` in stored order, and the rows left out by reason."""
    table = read_source(spec.source, [spec.column], spec.hub_split, field=f"{field}.source")
    skipped: Counter[str] = Counter(malformed=len(table.malformed))
    texts = []
    for _, row in table.rows:
        text = _cell(row[spec.column])
        if text:
            texts.append(text)
        else:
            skipped["empty"] += 1
    if not texts:
        raise FactoryError(f"{field}: {table.name} has no non-empty text in column {spec.column!r}")
    return texts, {reason: n for reason, n in sorted(skipped.items()) if n}


def read_pairs(spec: PairSource, field: str) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The (toxic, neutral) pairs with both sides non-empty, in stored order, and the rows left out by reason."""
    columns = [spec.toxic_column, spec.neutral_column]
    table = read_source(spec.source, columns, spec.hub_split, field=f"{field}.source")
    skipped: Counter[str] = Counter(malformed=len(table.malformed))
    pairs = []
    for _, row in table.rows:
        toxic, neutral = _cell(row[spec.toxic_column]), _cell(row[spec.neutral_column])
        if toxic and neutral:
            pairs.append((toxic, neutral))
        else:
            skipped["empty"] += 1
    if not pairs:
        raise FactoryError(f"{field}: {table.name} has no row with both {spec.toxic_column!r} and "
                           f"{spec.neutral_column!r} non-empty")
    return pairs, {reason: n for reason, n in sorted(skipped.items()) if n}
