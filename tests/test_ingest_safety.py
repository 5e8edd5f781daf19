"""Ingest never loses or alters human rows silently (issue 12): every skipped row is counted
with its source line and reason in report.json, a mostly malformed file fails with exit 2,
and `--limit` below 1 is rejected everywhere."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from factory.stages import ingest
from factory.cli import app
from factory.core.errors import FactoryError
from factory.recipe import Recipe
from factory.core.records import read_records

PARADETOX_COLUMNS = ["neutral1", "neutral2", "neutral3"]


def _recipe(source: Path | str, **human) -> Recipe:
    return Recipe(name="t", kind="toxify", human={"source": str(source), **human})


def _ingest(source: Path | str, root: Path, limit: int | None = None, **human) -> tuple[list, dict]:
    out = ingest.run(_recipe(source, **human), root=root, limit=limit)
    pairs = read_records(out / "train.parquet") + read_records(out / "test.parquet")
    return pairs, json.loads((out / "report.json").read_text())


def _tsv(path: Path, rows: list[str], header: str = "toxic\tneutral") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _rows(n: int, sep: str = "\t") -> list[str]:
    return [f"toxic sentence {i}{sep}neutral sentence {i}" for i in range(n)]


def _recipe_file(tmp_path: Path, source: Path, **human) -> Path:
    extra = "".join(f"  {key}: {value}\n" for key, value in human.items())
    path = tmp_path / "t.yaml"
    path.write_text(f"name: t\nkind: toxify\nhuman:\n  source: {source}\n{extra}")
    return path


def test_a_tsv_cell_opening_an_unclosed_quote_keeps_every_row(tmp_path):
    rows = _rows(61)
    rows[3] = '"unclosed toxic 3\tneutral 3'
    pairs, report = _ingest(_tsv(tmp_path / "q.tsv", rows), tmp_path / "data")
    assert len(pairs) == 61 and report["malformed_rows"] == 0
    assert '"unclosed toxic 3' in {p.toxic for p in pairs}
    assert report["read_as"]["quoting"] == "none"


def test_literal_quotes_inside_tsv_cells_survive(tmp_path):
    rows = ['"Shut up" he said\tHe asked for quiet', 'she said "no way"\tShe refused', "plain\tfine"]
    pairs, _ = _ingest(_tsv(tmp_path / "q.tsv", rows), tmp_path / "data")
    assert {p.toxic for p in pairs} == {'"Shut up" he said', 'she said "no way"', "plain"}


def test_a_tsv_whose_quotes_read_either_way_keeps_them(tmp_path):
    pairs, report = _ingest(_tsv(tmp_path / "q.tsv", ['"Idiot!"\tNot nice.', "plain\tfine"]), tmp_path / "data")
    assert {p.toxic for p in pairs} == {'"Idiot!"', "plain"} and report["read_as"]["quoting"] == "none"


def test_a_tsv_written_with_rfc_quoting_is_unquoted(tmp_path):
    rows = ['"he said ""hi"" , idiot"\tHe said hi.', '"two\nlines"\tone line', "plain\tfine"]
    pairs, report = _ingest(_tsv(tmp_path / "q.tsv", rows), tmp_path / "data")
    assert {p.toxic for p in pairs} == {'he said "hi" , idiot', "two\nlines", "plain"}
    assert report["read_as"]["quoting"] == "rfc4180" and report["malformed_rows"] == 0


def test_a_tsv_bad_both_ways_fails_naming_the_lines_of_each_reading(tmp_path):
    rows = _rows(200)
    rows[2] = '"unclosed toxic\tneutral 2'
    rows[150:153] = [f'"he said ""hi"" {i}"\tHe said hi {i}.' for i in range(3)]
    with pytest.raises(FactoryError, match=r"q.tsv: 3 of 200 data lines malformed .*line 152: "
                       r"quoted_cell_read_literally .*; read without quoting, .* first: line 4: bad_quoting\)$"):
        ingest.run(_recipe(_tsv(tmp_path / "q.tsv", rows)), root=tmp_path / "data")


def test_an_unquoted_comma_in_a_csv_fails_on_the_command_line(tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text("toxic,neutral\n" + "".join(f"you idiot, {i},calm down {i}\n" for i in range(20)))
    result = CliRunner().invoke(app, ["ingest", str(_recipe_file(tmp_path, path)), "--root", str(tmp_path / "d")])
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error: {path}: 20 of 20 data lines malformed (100.0% > human.max_malformed_share 1.0%)")
    assert "line 2: too_many_fields (3 field(s), the header has 2)" in line
    assert not (tmp_path / "d" / "human" / "t").exists()


def test_rows_with_a_field_too_few_or_too_many_are_counted_with_their_lines(tmp_path):
    rows = _rows(300)
    rows[10], rows[20] = "lonely toxic cell", "toxic\tneutral\textra"
    pairs, report = _ingest(_tsv(tmp_path / "f.tsv", rows), tmp_path / "data")
    assert len(pairs) == 298
    assert report["skipped"] == {"too_few_fields": 1, "too_many_fields": 1}
    assert report["examples"]["too_few_fields"] == [{"line": 12, "detail": "1 field(s), the header has 2"}]
    assert report["examples"]["too_many_fields"][0]["line"] == 22


def test_a_csv_cell_that_swallowed_rows_is_malformed(tmp_path):
    path = tmp_path / "s.csv"
    lines = [f"toxic {i},neutral {i}" for i in range(300)]
    lines[5], lines[9] = '"unclosed toxic,neutral 5', 'toxic 9 ends with a quote",neutral 9'
    path.write_text("toxic,neutral\n" + "\n".join(lines) + "\n")
    pairs, report = _ingest(path, tmp_path / "data", max_malformed_share=0.02)
    assert report["skipped"] == {"swallowed_rows": 1}
    assert report["examples"]["swallowed_rows"][0]["line"] == 7 and "lines 7-11" in report["examples"][
        "swallowed_rows"][0]["detail"]
    assert len(pairs) == 295
    with pytest.raises(FactoryError, match=r"s.csv: 5 of 300 data lines malformed .* line 7: swallowed_rows"):
        ingest.run(_recipe(path), root=tmp_path / "data")


def test_empty_neutral_toxic_and_duplicates_are_counted_not_malformed(tmp_path):
    rows = ["a\tA1\tA2\t", "b\tB1\t\t", "\tX1\tX2\tX3", "c\t\t\t", "a\tA1\t\t", "d\tD1\tD1\tD3"]
    path = _tsv(tmp_path / "p.tsv", rows, header="toxic\tneutral1\tneutral2\tneutral3")
    pairs, report = _ingest(path, tmp_path / "data", neutral_columns=PARADETOX_COLUMNS)
    assert {(p.toxic, p.neutral) for p in pairs} == {("a", "A1"), ("a", "A2"), ("b", "B1"), ("d", "D1"), ("d", "D3")}
    assert report["malformed_rows"] == 0
    assert report["skipped"] == {"duplicate_pair": 2, "empty_neutral": 5, "empty_toxic": 1, "no_neutral": 1}
    assert report["examples"]["duplicate_pair"] == [
        {"line": 6, "detail": "column 'neutral1': same pair as line 2"},
        {"line": 7, "detail": "column 'neutral2': same pair as line 7"}]
    assert report["pairs_made"] == 5 and report["pairs_written"] == 5


def test_a_small_share_of_malformed_lines_is_allowed_by_the_recipe(tmp_path):
    rows = _rows(50)
    rows[7] = "no neutral here"
    path = _tsv(tmp_path / "m.tsv", rows)
    with pytest.raises(FactoryError, match=r"m.tsv: 1 of 50 data lines malformed \(2.0% > .*line 9: too_few_fields"):
        ingest.run(_recipe(path), root=tmp_path / "data")
    pairs, report = _ingest(path, tmp_path / "data", max_malformed_share=0.05)
    assert len(pairs) == 49 and report["malformed_share"] == 0.02


def test_a_utf8_bom_does_not_hide_the_first_column(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes(("\ufefftoxic\tneutral\n" + "\n".join(_rows(3)) + "\n").encode("utf-8"))
    pairs, _ = _ingest(path, tmp_path / "data")
    assert len(pairs) == 3


def test_null_parquet_cells_are_counted(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"toxic": [None, "t2", "t3", "t4"], "neutral1": ["n1", None, "n3", None],
                             "neutral2": ["m1", None, None, "m4"]}), path)
    pairs, report = _ingest(path, tmp_path / "data", neutral_columns=["neutral1", "neutral2"])
    assert {(p.toxic, p.neutral) for p in pairs} == {("t3", "n3"), ("t4", "m4")}
    assert report["skipped"] == {"null_toxic": 1, "no_neutral": 1, "null_neutral": 2}
    assert report["examples"]["null_toxic"] == [{"row": 1}]


@pytest.mark.parametrize("column, values, kind", [("toxic", [["a"], ["b"]], "list<.*>"),
                                                   ("neutral", [1, 2], "int64")])
def test_non_text_parquet_columns_are_errors_naming_the_column(tmp_path, column, values, kind):
    data = {"toxic": ["t1", "t2"], "neutral": ["n1", "n2"], column: values}
    pq.write_table(pa.table(data), tmp_path / "p.parquet")
    with pytest.raises(FactoryError, match=rf"p.parquet: column '{column}' holds {kind} values, not text"):
        ingest.run(_recipe(tmp_path / "p.parquet"), root=tmp_path / "data")


def test_hub_rows_go_through_the_same_checks(tmp_path, monkeypatch):
    import datasets

    table = {"toxic": ["t1", None, "t3"], "neutral": ["n1", "n2", ""]}
    monkeypatch.setattr(datasets, "load_dataset", lambda source, split: datasets.Dataset.from_dict(table))
    pairs, report = _ingest("org/pairs", tmp_path / "data")
    assert len(pairs) == 1 and report["skipped"] == {"null_toxic": 1, "no_neutral": 1}
    bad = {"toxic": ["t1"], "neutral": [3]}
    monkeypatch.setattr(datasets, "load_dataset", lambda source, split: datasets.Dataset.from_dict(bad))
    with pytest.raises(FactoryError, match=r"org/pairs \(split train\): column 'neutral' holds int64 values"):
        ingest.run(_recipe("org/pairs"), root=tmp_path / "data")


def test_limit_and_max_rows_take_the_smaller(tmp_path):
    path = _tsv(tmp_path / "l.tsv", _rows(100))
    assert len(_ingest(path, tmp_path / "a", limit=10, max_rows=50)[0]) == 10
    pairs, report = _ingest(path, tmp_path / "b", limit=80, max_rows=50)
    assert len(pairs) == 50 and report["skipped"] == {"over_max_rows": 50}


@pytest.mark.parametrize("command", [["ingest"], ["generate"], ["run"], ["export"], ["grid", "train"]])
@pytest.mark.parametrize("limit", ["-1", "0"])
def test_a_limit_below_one_is_rejected_by_every_command(tmp_path, command, limit):
    path = _tsv(tmp_path / "l.tsv", _rows(20))
    root = tmp_path / "data"
    ingest.run(_recipe(path), root=root)
    good = (root / "human" / "t" / "train.parquet").read_bytes()
    result = CliRunner().invoke(app, [*command, str(_recipe_file(tmp_path, path)), "--root", str(root),
                                      "--limit", limit])
    assert result.exit_code == 2
    assert "Invalid value for '--limit'" in result.output
    assert (root / "human" / "t" / "train.parquet").read_bytes() == good


@pytest.mark.parametrize("module", ["factory.stages.ingest", "factory.stages.generate", "factory.stages.filter",
                                    "factory.stages.mix", "factory.stages.train", "factory.stages.evaluate",
                                    "factory.stages.certify", "factory.stages.export"])
def test_a_stage_run_rejects_a_limit_below_one(tmp_path, module):
    stage = importlib.import_module(module)
    name = module.split(".")[-1]
    for limit in (0, -1):
        with pytest.raises(FactoryError, match=rf"^{name}: limit must be at least 1 row, got {limit}$"):
            stage.run(_recipe("seed"), root=tmp_path / "data", limit=limit)


@pytest.mark.realdata
def test_paradetox_tsv_is_read_whole(shared_data, tmp_path):
    path = shared_data / "paradetox" / "paradetox.tsv"
    pairs, report = _ingest(path, tmp_path / "data", neutral_columns=PARADETOX_COLUMNS)
    assert report["read_as"]["quoting"] == "rfc4180" and report["malformed_rows"] == 0
    assert report["rows_read"] == 11927 and report["pairs_made"] + report["skipped"]["duplicate_pair"] == 19743
    assert len(pairs) == report["pairs_made"] == 19230
    assert sum("\n" in p.toxic or "\n" in p.neutral for p in pairs) == 7  # cells spanning lines, kept whole
    assert any('"' in p.neutral for p in pairs) and not any('""' in p.neutral for p in pairs)
