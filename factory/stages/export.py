"""Stage `export`: a pair corpus in the three training formats of the published experiments.

Beniwal et al. 2025 fine-tune LLMs on multilingual detoxification pairs in three ways;
every format is written for every split as JSON Lines and Parquet:

- `sft/<split>.{jsonl,parquet}`: language-model data, the neutral side only
  (`text`; one row per distinct neutral text of a language).
- `dpo/<split>.*`: preference data, `prompt` = the recipe's DPO prompt with the toxic side
  ("Rewrite the following text in a neutral way: ..."), `chosen` = neutral, `rejected` = toxic.
- `seq2seq/<split>.*`: `source` = toxic, `target` = neutral (mT5 / BART style).

Every row also carries `lang`, `group` (the pair id shared by all language versions of a
pair) and `split`. The corpus of a `translate` recipe is every language: the source
language's human pairs (data/human), the kept target-language train rows
(data/filtered) and the kept target-language test rows (data/generated/.../test.parquet).
For `toxify` and `detoxify` it is the kept synthetic pairs. `manifest.json` counts rows
per format, split and language.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from factory.core.errors import FactoryError, check_limit
from factory.kinds import kind_of
from factory.recipe import Recipe
from factory.recipe.translate import DEFAULT_DPO_PROMPT
from factory.core.records import Record, atomic_dir, atomic_file, read_parquet, read_records, write_json
from factory.core.layout import Layout

FORMATS: dict[str, tuple[str, ...]] = {
    "sft": ("text", "lang", "group", "split"),
    "dpo": ("prompt", "chosen", "rejected", "lang", "group", "split"),
    "seq2seq": ("source", "target", "lang", "group", "split"),
}
"""Column names of each export format."""

SPLITS = ("train", "test")


def export_rows(records: Sequence[Record], fmt: str, dpo_prompt: str = DEFAULT_DPO_PROMPT) -> list[dict[str, str]]:
    """Rows of format `fmt` (sft, dpo, seq2seq) from kept pair records, in record order."""
    if fmt not in FORMATS:
        raise FactoryError(f"export format {fmt!r}: use one of {', '.join(FORMATS)}")
    rows, seen = [], set()
    for r in records:
        if r.kind != "pair" or not r.kept:
            continue
        common = {"lang": r.lang, "group": r.group or r.id, "split": r.split or "train"}
        if fmt == "sft":
            if (r.lang, r.neutral) in seen:
                continue
            seen.add((r.lang, r.neutral))
            rows.append({"text": r.neutral or "", **common})
        elif fmt == "dpo":
            rows.append({"prompt": dpo_prompt.format(text=r.toxic or ""), "chosen": r.neutral or "",
                         "rejected": r.toxic or "", **common})
        else:
            rows.append({"source": r.toxic or "", "target": r.neutral or "", **common})
    return rows


def write_rows(rows: Sequence[dict[str, Any]], path: Path, columns: Sequence[str]) -> Path:
    """Write rows to `path` atomically: JSON Lines for .jsonl, Parquet for .parquet."""
    path = Path(path)
    with atomic_file(path) as tmp:
        if path.suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
        elif path.suffix == ".parquet":
            schema = pa.schema([(c, pa.string()) for c in columns])
            pq.write_table(pa.Table.from_pylist([{c: row[c] for c in columns} for row in rows], schema=schema), tmp)
        else:
            raise FactoryError(f"{path}: unsupported export file type (use .jsonl or .parquet)")
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read an export file written by `write_rows`."""
    path = Path(path)
    if path.suffix == ".parquet":
        return read_parquet(path).to_pylist()
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def corpus_records(recipe: Recipe, root: Path) -> list[Record]:
    """The kept pairs to export (see the module docstring); the recipe's kind adds its own rows."""
    kind = kind_of(recipe)
    if not kind.PAIRS:
        raise FactoryError(f"{recipe.path or recipe.name}: kind {recipe.kind} makes free text; "
                           "exports are for pair kinds")
    rows = read_records(Layout(root).filtered_rows(recipe.name), kept_only=True)
    return kind.export_corpus(recipe, Path(root), rows)


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/exports/<recipe>/<format>/<split>.{jsonl,parquet} and manifest.json."""
    check_limit(limit, "export")
    records = corpus_records(recipe, root)[:limit]
    dpo_prompt = recipe.translate.dpo_prompt if recipe.translate else DEFAULT_DPO_PROMPT
    out = Layout(root).exports(recipe.name)
    counts: dict[str, dict[str, dict[str, int]]] = {}
    with atomic_dir(out) as tmp:
        for fmt, columns in FORMATS.items():
            rows = export_rows(records, fmt, dpo_prompt)
            counts[fmt] = {}
            for split in SPLITS:
                chosen = [row for row in rows if row["split"] == split]
                for suffix in (".jsonl", ".parquet"):
                    write_rows(chosen, tmp / fmt / f"{split}{suffix}", columns)
                counts[fmt][split] = dict(sorted(Counter(row["lang"] for row in chosen).items()))
        write_json(tmp / "manifest.json", {"recipe": recipe.name, "dpo_prompt": dpo_prompt, "rows": counts,
                                           "columns": {fmt: list(cols) for fmt, cols in FORMATS.items()}})
    return out
