"""A release of every recipe kind loads with `datasets` and its card with huggingface_hub.

Each release is built from hand-made minimal stage outputs (tests/release_fixtures.py), so
the test runs in seconds; no model runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import app
from release_fixtures import KINDS, make_outputs

REPO = Path(__file__).resolve().parent.parent


def build(kind: str, tmp_path: Path, **certificate_options) -> tuple[Path, list]:
    """(release folder, rows) of a dry-run release of the tiny `kind` recipe."""
    recipe = tmp_path / f"{kind}.yaml"
    shutil.copyfile(REPO / "recipes" / "tiny" / f"{kind}.yaml", recipe)
    rows = make_outputs(kind, tmp_path / "data", recipe, **certificate_options)
    out = tmp_path / "release"
    result = CliRunner().invoke(app, ["publish", str(recipe), "--root", str(tmp_path / "data"), "--dry-run", str(out)])
    assert result.exit_code == 0, result.output
    return out, rows


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_release_loads_with_datasets_and_its_card_loads(kind, tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    out, rows = build(kind, tmp_path)
    loaded = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    kept, dropped = sum(r.kept for r in rows), sum(not r.kept for r in rows)
    expected = {"train": kept, **({"dropped": dropped} if dropped else {})}
    assert {name: split.num_rows for name, split in loaded.items()} == expected
    assert sorted(loaded["train"]["id"]) == sorted(r.id for r in rows if r.kept)
    card = DatasetCard.load(out / "README.md")
    assert [f["split"] for f in card.data.configs[0]["data_files"]] == list(expected)
    for split in expected:
        assert list((out / "data").glob(f"{split}-*.parquet"))
    assert not list((out / "data").glob("dropped-*.parquet")) or dropped
