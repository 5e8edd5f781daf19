"""The row type, its Parquet storage and atomic writes."""

from __future__ import annotations

import pytest

from factory.core.records import Record, atomic_dir, content_id, read_records, write_records


def test_ids_are_content_hashes():
    a = Record.make("pair", toxic="you fool", neutral="you are wrong")
    b = Record.make("pair", toxic="you fool", neutral="you are wrong", source="other")
    c = Record.make("pair", toxic="you fool", neutral="you are mistaken")
    assert a.id == b.id != c.id
    assert len(a.id) == 16
    assert content_id("a", "b") != content_id("ab")
    assert content_id(None) != content_id("")


def test_parquet_round_trip_keeps_every_field(tmp_path):
    rows = [Record.make("text", text="hello there", attributes={"score": 0.5, "tag": "x", "n": 3, "ok": True}),
            Record.make("pair", lang="de", toxic="t", neutral="n", split="test").drop("near_duplicate", "abc")]
    path = write_records(tmp_path / "rows.parquet", rows)
    back = read_records(path)
    assert back == rows
    assert [r.id for r in read_records(path, kept_only=True)] == [rows[0].id]


def test_first_drop_reason_wins():
    row = Record.make("text", text="x").drop("refusal").drop("copy", "ref")
    assert (row.drop_reason, row.drop_ref, row.kept) == ("refusal", None, False)


def test_make_rejects_incomplete_rows():
    with pytest.raises(ValueError):
        Record.make("pair", toxic="only one side")
    with pytest.raises(ValueError):
        Record.make("text")


def test_killed_writer_leaves_previous_output_intact(tmp_path):
    out = tmp_path / "stage"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["stage"]


def test_content_is_the_synthetic_side():
    row = Record.make("pair", toxic="t", neutral="n", attributes={"synthetic_side": "neutral"})
    assert row.content() == "n"
    assert Record.make("pair", toxic="t", neutral="n").content() == "t"


def test_sigkilled_stage_leaves_previous_output_intact(tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "stage"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom factory.core.records import atomic_dir\n"
        f"with atomic_dir(Path({str(out)!r})) as tmp:\n"
        "    (tmp / 'a.txt').write_text('half')\n    print('ready', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert (out / "a.txt").read_text() == "first"
    with atomic_dir(out) as tmp:  # the next run cleans the stale temporary folder
        (tmp / "a.txt").write_text("second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage"]
    assert (out / "a.txt").read_text() == "second"
