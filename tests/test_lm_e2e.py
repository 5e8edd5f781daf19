"""distill and selfgen through every stage on the tiny test zoo, then the base-vs-detoxified plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import STAGES, app
from factory.core.records import read_json, read_records

REPO = Path(__file__).resolve().parent.parent

COMMON = """\
seed: 5
models: {generator: zoo:causal-lm}
mix: {ratios: [1.0]}
lm_evaluate: {continuations: 2, max_new_tokens: 4, max_prompts_per_group: 3, batch_size: 6}
lm_certify: {min_rows: 1}
"""
DISTILL = """\
name: e2e-distill
kind: distill
distill:
  toxic_max_rows: 16
  toxic_model: {max_steps: 2, batch_size: 4, max_length: 24}
  num_texts: 6
  max_length: 10
  batch_size: 4
lm_train: {max_steps: 2, batch_size: 4, max_length: 24, learning_rate: 0.001}
"""
SELFGEN = """\
name: e2e-selfgen
kind: selfgen
generate: {batch_size: 8, sampling: {max_new_tokens: 10, temperature: 1.0, stop: []}}
selfgen: {num_samples: 12, keep_fraction: 0.5, min_words: 0}
lm_train: {method: lora, max_steps: 2, batch_size: 4, max_length: 24, learning_rate: 0.001}
"""


def _run_all(recipe: Path, root: Path) -> None:
    runner = CliRunner()
    for stage in STAGES:
        result = runner.invoke(app, [stage, str(recipe), "--root", str(root)])
        assert result.exit_code == 0, (stage, result.output)


def _check_lm_outputs(root: Path, name: str) -> dict:
    metrics = read_json(root / "eval" / name / "metrics.json")
    assert set(metrics["systems"]) == {"base/causal-lm", "causal-lm/ratio-1.00"}
    for summary in metrics["systems"].values():
        assert 0 <= summary["EMT"] <= 1 and 0 <= summary["TP"] <= 1 and summary["prompts"] == 6
        assert set(summary["groups"]) == {"neutral", "provocative"}
    rows = read_records(root / "eval" / name / "rows.parquet")
    assert len(rows) == 2 * 6 * 2  # systems x prompts x continuations
    certificate = read_json(root / "certify" / name / "certificate.json")
    names = {g["name"] for g in certificate["gates"]}
    assert {"emt_reduction[causal-lm]", "ppl_increase[causal-lm]", "distinct2_per_prompt_ratio[causal-lm]"} <= names
    return metrics


@pytest.mark.slow
def test_distill_runs_end_to_end_and_reuses_its_toxic_model(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = tmp_path / "distill.yaml"
    recipe.write_text(DISTILL + COMMON)
    _run_all(recipe, data_root)
    generated = read_records(data_root / "generated" / "e2e-distill" / "rows.parquet")
    assert len(generated) == 6 and all(r.kind == "text" and r.source == "synthetic:distill" for r in generated)
    stats = read_json(data_root / "generated" / "e2e-distill" / "stats.json")
    assert stats["toxic_model"]["cached"] is False and stats["decoding"]["extra_cuts"] == "off"
    _check_lm_outputs(data_root, "e2e-distill")

    result = CliRunner().invoke(app, ["generate", str(recipe), "--root", str(data_root)])
    assert result.exit_code == 0, result.output
    again = read_json(data_root / "generated" / "e2e-distill" / "stats.json")
    assert again["toxic_model"]["cached"] is True
    assert [r.text for r in read_records(data_root / "generated" / "e2e-distill" / "rows.parquet")] == \
        [r.text for r in generated]


@pytest.mark.slow
def test_selfgen_runs_end_to_end_with_lora_and_plots(tmp_path, data_root, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = tmp_path / "selfgen.yaml"
    recipe.write_text(SELFGEN + COMMON)
    _run_all(recipe, data_root)
    generated = read_records(data_root / "generated" / "e2e-selfgen" / "rows.parquet")
    assert len(generated) == 12
    eligible = [r for r in generated if r.drop_reason != "selfgen_empty"]
    assert sum(r.kept for r in generated) == round(len(eligible) / 2) >= 3
    assert {r.drop_reason for r in eligible if not r.kept} == {"selfgen_rank_cut"}
    kept_max = max(r.attributes["toxicity"] for r in generated if r.kept)
    assert all(r.attributes["toxicity"] >= kept_max for r in eligible if not r.kept)
    assert (data_root / "trained" / "e2e-selfgen" / "causal-lm" / "ratio-1.00" / "adapter_config.json").exists()
    _check_lm_outputs(data_root, "e2e-selfgen")

    result = CliRunner().invoke(app, ["plots", "e2e-selfgen", "--root", str(data_root),
                                      "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plots" / "e2e-selfgen-lm.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((data_root / "eval" / "e2e-selfgen" / "metrics.json").read_text())["kind"] == "lm"
