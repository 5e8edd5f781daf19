"""SFT, DPO and seq2seq exports: contents, round trips through JSON Lines and Parquet, the stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.stages import export
from factory.core.errors import FactoryError
from factory.core.langid import LANGUAGES
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, write_records

REPO = Path(__file__).resolve().parent.parent

AWKWARD = [  # quotes, commas, a newline, non-Latin scripts and an emoji survive both formats
    ("de", 'Du "Genie", echt jetzt?', "Bist du sicher?"),
    ("zh", "你这个笨蛋，\n闭嘴", "请安静一点"),
    ("am", "ቆሻሻ ውሻ 🙂", "እባክህ ተረጋጋ"),
]


def _records() -> list[Record]:
    rows = []
    for lang, toxic, neutral in AWKWARD:
        record = Record.make("pair", lang=lang, toxic=toxic, neutral=neutral, split="train", group=f"g-{lang}")
        rows.append(record)
    rows.append(Record.make("pair", lang="de", toxic="Du Depp", neutral="Bist du sicher?", split="test", group="g2"))
    rows.append(Record.make("pair", lang="de", toxic="weg", neutral="gone", split="train").drop("wrong_language"))
    return rows


def test_formats_hold_what_the_published_experiments_used():
    records = _records()
    dpo = export.export_rows(records, "dpo")
    assert dpo[0] == {"prompt": 'Rewrite the following text in a neutral way: Du "Genie", echt jetzt?',
                      "chosen": "Bist du sicher?", "rejected": 'Du "Genie", echt jetzt?',
                      "lang": "de", "group": "g-de", "split": "train"}
    seq2seq = export.export_rows(records, "seq2seq")
    assert [(r["source"], r["target"]) for r in seq2seq] == (
        [(t, n) for _, t, n in AWKWARD] + [("Du Depp", "Bist du sicher?")])
    sft = export.export_rows(records, "sft")
    assert [r["text"] for r in sft] == ["Bist du sicher?", "请安静一点", "እባክህ ተረጋጋ"]  # neutral only, once per language
    assert all("weg" not in json.dumps(r) for r in dpo + seq2seq + sft)  # dropped rows are not exported
    with pytest.raises(FactoryError, match="export format 'csv'"):
        export.export_rows(records, "csv")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
@pytest.mark.parametrize("fmt", list(export.FORMATS))
def test_export_files_round_trip(tmp_path, fmt, suffix):
    rows = export.export_rows(_records(), fmt, "Make this polite: {text}")
    path = export.write_rows(rows, tmp_path / f"{fmt}{suffix}", export.FORMATS[fmt])
    assert export.read_rows(path) == rows
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_stage_writes_every_language_and_split_of_a_translate_corpus(tmp_path):
    recipe = load_recipe(REPO / "recipes" / "tiny" / "translate.yaml")
    root = tmp_path / "data"
    human = [Record.make("pair", lang="en", toxic="you fool", neutral="you are wrong", split=split, group="cluster")
             for split in ("train", "test")]
    human[1] = Record.make("pair", lang="en", toxic="shut up", neutral="please stop", split="test", group="cluster")
    write_records(root / "human" / "translate" / "train.parquet", human[:1])
    write_records(root / "human" / "translate" / "test.parquet", human[1:])
    german = Record.make("pair", lang="de", toxic="du Narr", neutral="du irrst dich", split="train", group=human[0].id)
    write_records(root / "filtered" / "translate" / "rows.parquet", [german] + _records()[-1:])
    spanish = Record.make("pair", lang="es", toxic="cállate", neutral="para, por favor", split="test",
                          group=human[1].id)
    write_records(root / "generated" / "translate" / "test.parquet", [spanish])
    out = export.run(recipe, root=root)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["seq2seq"] == {"train": {"de": 1, "en": 1}, "test": {"en": 1, "es": 1}}
    train = export.read_rows(out / "seq2seq" / "train.parquet")
    assert {r["lang"]: r["group"] for r in train} == {"en": human[0].id, "de": human[0].id}  # joined by pair id
    assert export.read_rows(out / "dpo" / "test.jsonl") == export.read_rows(out / "dpo" / "test.parquet")


def test_exports_refuse_free_text_kinds(tmp_path):
    data = load_recipe(REPO / "recipes" / "tiny" / "selfgen.yaml").model_dump()
    with pytest.raises(FactoryError, match="exports are for pair kinds"):
        export.run(Recipe.model_validate(data), root=tmp_path)


@pytest.mark.realdata
def test_multilingual_paradetox_exports_round_trip(shared_data, tmp_path):
    from factory.generate.translate_sources import read_pair_files

    records = []
    for lang in LANGUAGES:
        for toxic, neutral in read_pair_files(shared_data / "multilingual_paradetox", lang):
            record = Record.make("pair", lang=lang, toxic=toxic, neutral=neutral, split="train")
            records.append(record)
    assert len(records) == 9 * 300
    for fmt, columns in export.FORMATS.items():
        rows = export.export_rows(records, fmt)
        if fmt != "sft":
            assert len(rows) == len(records)
        for suffix in (".jsonl", ".parquet"):
            assert export.read_rows(export.write_rows(rows, tmp_path / f"{fmt}{suffix}", columns)) == rows
    back = export.read_rows(tmp_path / "seq2seq.parquet")
    assert [(r["lang"], r["source"], r["target"]) for r in back] == [(r.lang, r.toxic, r.neutral) for r in records]
