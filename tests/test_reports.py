"""Typed stage reports: a key a later stage relies on is checked when the file is read."""

from __future__ import annotations

import json

import pytest

from factory.core.errors import FactoryError
from factory.core.reports import Certificate, MixManifest, PairFilterReport
from factory.recipe import Recipe
from factory.stages import certify, ingest

GOOD = {"rows": 4, "kept": 3, "outcomes": {"kept": 3, "refusal": 1}, "near_dup_rate": 0, "refusal_rate": 0.25,
        "copy_rate": 0.0, "contamination_dropped": 0, "contamination": 0, "train_test_leakage": 0,
        "leaking_human_ids": [], "synthetic": {"distinct_2": 0.9}, "human": {"distinct_2": 0.8},
        "distinct2_ratio": 1.125}


def test_a_report_reads_back_as_written(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(GOOD))
    report = PairFilterReport.read(path)
    assert report.kept == 3 and report.raw == GOOD
    assert isinstance(report.raw["near_dup_rate"], int)  # a written 0 stays 0: the certificate copies raw values


def test_a_renamed_key_is_an_error_naming_the_file_the_key_and_its_writer(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**{k: v for k, v in GOOD.items() if k != "contamination"}, "contaminated": 0}))
    with pytest.raises(FactoryError, match=r"report\.json: contamination: missing \(written by `factory filter`"):
        PairFilterReport.read(path)
    path.write_text(json.dumps({**GOOD, "synthetic": {"distinct2": 0.9}}))
    with pytest.raises(FactoryError, match=r"synthetic\.distinct_2: missing"):
        PairFilterReport.read(path)


def test_certify_refuses_a_filter_report_without_a_gate_key(tmp_path):
    """Before: `report.get("contamination")` was None and the gate failed as if measured."""
    root = tmp_path / "data"
    recipe = Recipe(name="r", kind="toxify", human={"source": "seed"})
    ingest.run(recipe, root=root)
    (root / "filtered" / "r").mkdir(parents=True)
    (root / "filtered" / "r" / "report.json").write_text(json.dumps({k: v for k, v in GOOD.items()
                                                                    if k != "contamination"}))
    with pytest.raises(FactoryError, match=r"filtered/r/report\.json: contamination: missing"):
        certify.run(recipe, root=root)


def test_certificate_and_manifest_check_their_keys(tmp_path):
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps({"recipe": "r", "certified": True}))
    with pytest.raises(FactoryError, match=r"certificate\.json: gates: missing \(written by `factory certify`"):
        Certificate.read(path)
    path.write_text(json.dumps({"size": 3}))
    with pytest.raises(FactoryError, match=r"mixes: missing \(written by `factory mix`"):
        MixManifest.read(path)
