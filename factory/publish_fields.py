"""The card's data description: every column and attribute with its type and meaning, the
drop reasons, and an example row."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from factory.core.records import Record

COLUMNS = {
    "id": "Stable content hash of the row (16 hex digits): the same content gets the same id in every run.",
    "kind": "`pair` (a `toxic` and a `neutral` side) or `text` (free text).",
    "lang": "ISO 639-1 code of the row's language.",
    "text": "The free text of a `text` row.",
    "toxic": "The toxic side of a pair (`attributes.synthetic_side` says whether it was generated).",
    "neutral": "The neutral side of a pair (`attributes.synthetic_side` says whether it was generated).",
    "source": "`human`, or `synthetic:<kind>` for rows a generator wrote.",
    "recipe": "Name of the recipe that produced the row.",
    "split": "The pipeline's split of the row (`train`: never a held-out test item); not the Hub split.",
    "group": "Id shared by versions of one item: the source sentence a generation came from, or a pair across "
             "languages.",
    "drop_reason": "Null for kept rows; why the row was dropped (see Drop reasons).",
    "drop_ref": "Id of the row this one duplicated or was judged against, where there is one.",
    "attributes": "Scores and metadata of the row (one sub-field per key below; null where a row has no value).",
}
"""Meaning of every project column."""

ATTRIBUTES = {
    "synthetic_side": "The side dedupe and diversity look at: the side the generator wrote (toxify: `toxic`, "
                      "detoxify: `neutral`; translate: `toxic`, though both sides are translated; text rows: "
                      "`neutral`).",
    "attempt": "Generation attempt (0 = first) whose output this row is.",
    "similarity": "Cosine similarity of the output and its input (the similarity model).",
    "toxicity": "P(toxic) of the generated text (the toxicity model).",
    "toxicity_rank": "Rank of the text by toxicity among the eligible samples (0 = least toxic).",
    "index": "Position of the sample in generation order.",
    "words": "Words in the text.",
    "translated": "True for rows the generator translated; False for human pairs read in their language.",
    "source_lang": "Language the row was translated from.",
    "pair_similarity": "Cosine similarity of the toxic and the neutral side.",
    "drop_side": "Side that failed the check that dropped the row: `toxic`, `neutral` or `both`.",
}
"""Meaning of the attribute keys the stages write; `<side>_*` keys are described by `SIDE_ATTRIBUTES`."""

SIDE_ATTRIBUTES = {
    "lang": "language identified for the {side} side",
    "lang_p": "confidence of the language identification of the {side} side",
    "script_share": "share of the {side} side's letters in the expected script",
    "toxicity": "P(toxic) of the {side} side (the toxicity model)",
    "similarity": "cosine similarity of the {side} side and the side it was translated from",
    "truncated": "the {side} side's generation hit the token limit without ending",
}

DROP_REASONS = {
    "empty": "nothing but whitespace and punctuation was generated",
    "truncated": "generation hit the token limit without ending",
    "refusal": "the output opens like a refusal",
    "copy": "the output copies its input",
    "meaning_lost": "similarity to the input below the recipe's minimum",
    "wrong_direction": "a toxify output scored non-toxic, or a detoxify output scored toxic",
    "wrong_script": "a side is not in the language's script",
    "mixed_script": "a side mixes scripts",
    "wrong_language": "a side is not in the row's language",
    "toxicity_lost": "the toxic side is not toxic",
    "neutral_toxic": "the neutral side is toxic",
    "exact_duplicate": "equals an earlier kept row after normalisation (`drop_ref`)",
    "near_duplicate": "near-duplicate (MinHash) of a kept row (`drop_ref`)",
    "contamination": "near-duplicates a row of the human test split (`drop_ref`)",
    "diversity_selection": "left out by diversity-aware selection",
    "selfgen_rank_cut": "outside the least toxic share kept",
    "selfgen_empty": "too short to rank",
}


def attribute_meaning(key: str) -> str:
    """The card's description of one attribute key."""
    if key in ATTRIBUTES:
        return ATTRIBUTES[key]
    side, _, rest = key.partition("_")
    if side in ("toxic", "neutral") and rest in SIDE_ATTRIBUTES:
        return SIDE_ATTRIBUTES[rest].format(side=side).capitalize() + "."
    return "Recorded by the generating stage (no description in this version of Detox Factory)."


def type_name(kind: pa.DataType) -> str:
    """The `datasets` name of an Arrow type (string, int64, float64, bool, struct)."""
    if pa.types.is_struct(kind):
        return "struct"
    return {"double": "float64", "large_string": "string"}.get(str(kind), str(kind))


def field_rows(schema: pa.Schema) -> list[list[str]]:
    """(field, type, meaning) of every column of `schema`, then of every attribute key."""
    rows = [[f"`{f.name}`", type_name(f.type), COLUMNS.get(f.name, "")] for f in schema]
    if "attributes" in schema.names:
        rows += [[f"`attributes.{f.name}`", type_name(f.type), attribute_meaning(f.name)]
                 for f in schema.field("attributes").type]
    return rows


def drop_reason_rows(counts: dict[str, int]) -> list[list[Any]]:
    """(reason, rows, meaning) of every drop reason in `counts`."""
    return [[f"`{reason}`", n, DROP_REASONS.get(reason, "")] for reason, n in sorted(counts.items())]


def _shorten(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def example_row(record: Record, schema: pa.Schema, limit: int = 200) -> str:
    """JSON of one row as the release stores it, long strings cut at `limit` characters."""
    row = {name: _shorten(getattr(record, name), limit) for name in schema.names if name != "attributes"}
    if "attributes" in schema.names:
        row["attributes"] = {f.name: _shorten(record.attributes.get(f.name), limit)
                             for f in schema.field("attributes").type}
    return json.dumps(row, indent=2, ensure_ascii=False)
