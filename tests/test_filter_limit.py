"""`--limit` in the filter stage caps each language alike (found by the full-profile rehearsal, issue 14)."""

from __future__ import annotations

from pathlib import Path

from factory.stages import ingest
from factory.stages import filter as filter_stage
from factory.recipe import load_recipe
from factory.core.records import Record, read_records, write_records

REPO = Path(__file__).resolve().parent.parent


def _pair(lang: str, index: int) -> Record:
    return Record.make("pair", lang=lang, toxic=f"{lang} toxic text number {index} is rude",
                       neutral=f"{lang} polite text number {index} differs", source="synthetic", split="train")


def test_filter_limit_keeps_the_first_rows_of_every_language(tmp_path):
    """translate-qwen25 at `factory run --limit 24`: generate wrote 24 pairs per language, language by
    language; filter's plain head kept 24 Amharic rows only and the grid's `de` setting had no rows."""
    recipe = load_recipe(REPO / "recipes" / "tiny" / "translate.yaml")
    root = tmp_path / "data"
    ingest.run(recipe, root=root)
    generated = [_pair(lang, i) for lang in ("am", "de", "zh") for i in range(5)]
    write_records(root / "generated" / recipe.name / "rows.parquet", generated)
    out = filter_stage.run(recipe, root=root, limit=2)
    langs = [r.lang for r in read_records(out / "rows.parquet")]
    assert {lang: langs.count(lang) for lang in set(langs)} == {"am": 2, "de": 2, "zh": 2}
