"""A kind defined in the tests folder, registered with one line, runs through every stage."""

from __future__ import annotations

import json

import pytest

from factory import kinds
from factory.core.errors import FactoryError
from factory.kinds import KINDS, kind_of
from factory.recipe import Recipe
from factory.stages import certify, export, filter as filter_stage, generate, ingest, mix, publish, report, train
from factory.stages import evaluate


@pytest.fixture
def echo(monkeypatch):
    """The throwaway kind `echo` (tests/echo_kind), registered for one test."""
    monkeypatch.setitem(KINDS, "echo", "echo_kind")  # the one registry line a new kind adds
    # the recipe schema is owned by factory/recipe (its kinds are a closed set); an echo recipe is a toxify
    # recipe whose kind is echo
    recipe = Recipe(name="echo", kind="toxify", human={"source": "seed"}, mix={"ratios": [0.0, 0.5],
                                                                                 "certified_ratio": 0.5},
                    certify={"min_rows": 1, "min_test_rows": 1})
    return recipe.model_copy(update={"kind": "echo"})


def test_a_registered_kind_runs_through_every_stage(echo, tmp_path):
    root = tmp_path / "data"
    for stage in (ingest, generate, filter_stage, mix, train, evaluate, certify):
        assert stage.run(echo, root=root).is_dir()
    certificate = json.loads((root / "certify" / "echo" / "certificate.json").read_text())
    assert [g["name"] for g in certificate["gates"]] == ["rows", "contamination"]
    assert certificate["verdict"] == "certified" and certificate["provenance"]["recipe"]["kind"] == "echo"
    assert json.loads((root / "eval" / "echo" / "metrics.json").read_text())["systems"]["ratio-0.50"]["J"] == 0.5
    assert (export.run(echo, root=root) / "manifest.json").is_file()
    assert report.run(echo, root=root).is_file()
    release = publish.run(echo, root=root, dry_run=tmp_path / "release", force=True)
    card = (release / "README.md").read_text()
    assert "Method: Echo (a test kind" in card and "`echo`" in card


def test_an_unregistered_kind_is_named_in_the_error(echo):
    with pytest.raises(FactoryError, match=r"kind: 'echo' is not a registered kind \(known: toxify, "):
        kinds.KINDS.pop("echo")
        kind_of(echo)
