"""The stages' table work on polars frames gives exactly what the loops over `Record` objects gave.

Each test keeps the old implementation as the oracle and compares on a few hundred generated rows.
"""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest

from factory.core.frames import count_by, read_frame, write_frame
from factory.core.records import Record, read_records, write_json, write_records
from factory.recipe import Recipe
from factory.stages import mix

REASONS = (None, None, None, "exact_duplicate", "near_duplicate", "refusal", "copy", "contamination")


def _rows(n: int, source: str, seed: int) -> list[Record]:
    """`n` pair rows with varied attributes (unicode, floats, bools) and some dropped."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        record = Record.make("pair", lang=rng.choice(("en", "de", "ru")), toxic=f"{source} toxic {i} ü",
                             neutral=f"{source} neutral {i} {rng.random()}", source=source, recipe="m",
                             split=rng.choice(("train", "", "test")), group=f"g{i // 3}",
                             attributes={"score": rng.random(), "note": "é✓", "ok": i % 2 == 0, "n": i})
        if source != "human" and rng.random() < 0.3:
            record.drop(rng.choice(REASONS[3:]), f"ref{i}")
        rows.append(record)
    return rows


def _old_make_mix(synthetic, human, ratio, size, seed):
    n_syn = round(ratio * size)
    rng = random.Random(f"{seed}:{ratio}")
    rows = rng.sample(list(synthetic), n_syn) + rng.sample(list(human), size - n_syn)
    rng.shuffle(rows)
    return rows


def _old_mix_run(recipe, root):
    """The mix stage before polars (Records in, Records out), writing to `root`/mixed-old."""
    synthetic = read_records(root / "filtered" / "m" / "rows.parquet", kept_only=True)
    leaking = set(json.loads((root / "filtered" / "m" / "report.json").read_text())["leaking_human_ids"])
    human_train = read_records(root / "human" / "m" / "train.parquet")
    human = [r for r in human_train if r.id not in leaking]
    ratios = sorted(set(recipe.mix.ratios))
    size = recipe.mix.size or mix.fillable_size(ratios, len(synthetic), len(human))
    out = root / "mixed-old"
    manifest = []
    for ratio in ratios:
        rows = _old_make_mix(synthetic, human, ratio, size, recipe.seed)
        write_records(out / f"{mix.ratio_name(ratio)}.parquet", rows)
        manifest.append({"ratio": ratio, "rows": len(rows), "synthetic": sum(r.source != "human" for r in rows),
                         "leaking_human": sum(r.id in leaking for r in rows)})
    return out, {"size": size, "mixes": manifest, "left_out_leaking_human": len(human_train) - len(human)}


@pytest.mark.parametrize("seed", [0, 7])
def test_mix_on_frames_writes_the_same_rows_in_the_same_order(tmp_path, seed):
    root = tmp_path / "data"
    synthetic, human = _rows(300, "synthetic:toxify", seed), _rows(250, "human", seed + 1)
    write_records(root / "filtered" / "m" / "rows.parquet", synthetic)
    write_records(root / "human" / "m" / "train.parquet", human)
    leaking = [human[3].id, human[40].id, human[199].id]
    write_json(root / "filtered" / "m" / "report.json", {"kept": 1, "contamination": 0, "leaking_human_ids": leaking})
    recipe = Recipe(name="m", kind="toxify", seed=seed, mix={"ratios": [0.0, 0.25, 0.5, 0.75, 1.0]})
    old_dir, old_manifest = _old_mix_run(recipe, root)
    new_dir = mix.run(recipe, root=root)
    assert json.loads((new_dir / "manifest.json").read_text()) == old_manifest
    for ratio in recipe.mix.ratios:
        name = f"{mix.ratio_name(ratio)}.parquet"
        old, new = pq.read_table(old_dir / name), pq.read_table(new_dir / name)
        assert new.schema == old.schema and new.equals(old), ratio
        assert [r.id for r in read_records(new_dir / name)] == [r.id for r in read_records(old_dir / name)]


def test_mix_frame_draws_the_rows_make_mix_draws():
    synthetic, human = _rows(300, "synthetic:toxify", 1), _rows(200, "human", 2)
    kept = [r for r in synthetic if r.kept]
    for ratio in (0.0, 0.3, 1.0):
        old = _old_make_mix(kept, human, ratio, 150, seed=5)
        assert [r.id for r in mix.make_mix(kept, human, ratio, 150, seed=5)] == [r.id for r in old]


def test_frames_round_trip_records_unchanged(tmp_path):
    rows = _rows(300, "synthetic:toxify", 3)
    write_records(tmp_path / "a.parquet", rows)
    write_frame(tmp_path / "b.parquet", read_frame(tmp_path / "a.parquet"))
    assert pq.read_table(tmp_path / "b.parquet").equals(pq.read_table(tmp_path / "a.parquet"))
    assert read_frame(tmp_path / "a.parquet", kept_only=True)["id"].to_list() == [r.id for r in rows if r.kept]


def test_count_by_matches_a_counter_over_records(tmp_path):
    from collections import Counter

    rows = _rows(400, "synthetic:toxify", 4)
    write_records(tmp_path / "a.parquet", rows)
    frame = read_frame(tmp_path / "a.parquet")
    assert count_by(frame, "drop_reason", null_as="kept") == dict(sorted(Counter(r.drop_reason or "kept"
                                                                                  for r in rows).items()))
    assert count_by(frame, "lang", null_as="") == dict(sorted(Counter(r.lang for r in rows).items()))


def _old_records_to_table(records):
    from dataclasses import asdict

    import pyarrow as pa

    from factory.core.records import SCHEMA

    rows = []
    for record in records:
        row = asdict(record)
        row["attributes"] = json.dumps(record.attributes, sort_keys=True, ensure_ascii=False)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _old_table_to_records(table):
    return [Record(**{**row, "attributes": json.loads(row.get("attributes") or "{}")}) for row in table.to_pylist()]


def test_column_wise_table_conversion_matches_the_per_row_one():
    from dataclasses import fields

    from factory.core.records import SCHEMA, records_to_table, table_to_records

    assert [f.name for f in fields(Record)] == SCHEMA.names  # table_to_records builds records by position
    rows = _rows(300, "synthetic:toxify", 5) + _rows(100, "human", 6)
    rows.append(Record.make("text", text="free text", attributes={}))
    rows[0].attributes = {"b": 1.5e-300, "a": None, "z": "\u0000x"}
    assert records_to_table(rows).equals(_old_records_to_table(rows))
    table = _old_records_to_table(rows)
    assert table_to_records(table) == _old_table_to_records(table) == rows
    assert records_to_table([]).equals(_old_records_to_table([])) and table_to_records(table.slice(0, 0)) == []
    fewer = table.drop_columns(["group", "drop_ref"])
    assert table_to_records(fewer) == _old_table_to_records(fewer)


def _old_language_counts(rows):
    from collections import Counter

    table = {}
    for row in rows:
        entry = table.setdefault(row.lang, {"rows": 0, "kept": 0, "dropped": 0, "reasons": Counter()})
        entry["rows"] += 1
        if row.kept:
            entry["kept"] += 1
        else:
            entry["dropped"] += 1
            entry["reasons"][row.drop_reason] += 1
    return dict(sorted(table.items()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_language_counts_on_polars_match_the_loop(seed):
    from factory.report_facts import language_counts

    rows = _rows(400, "synthetic:toxify", seed)
    for record in random.Random(seed).sample(rows, 60):
        record.drop_reason = record.drop_reason or "refusal"
    new, old = language_counts(rows), _old_language_counts(rows)
    assert new == old and list(new) == list(old)
    assert all(list(new[k]["reasons"].most_common()) == list(old[k]["reasons"].most_common()) for k in old)
    assert language_counts([]) == {} and language_counts(rows[:1]) == _old_language_counts(rows[:1])
