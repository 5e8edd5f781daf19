"""The whole pipeline on the tiny zoo: every stage, the certificate, the release, DVC."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factory.cli import STAGES, app
from factory.core.records import read_records

REPO = Path(__file__).resolve().parent.parent

# Lenient checks: the 2%-trained test zoo writes gibberish, and this test is about the plumbing.
E2E_RECIPE = """\
name: e2e
kind: toxify
seed: 3
models:
  generator: zoo:causal-lm
  fluency: zoo:fluency
  detoxifier: zoo:seq2seq
generate:
  max_inputs: 48
  batch_size: 16
  prompt: {few_shot: 1}
  sampling: {max_new_tokens: 12, seed: 3}
  checks: {min_similarity: 0.0, direction: false, copy_max_similarity: 1.0}
mix:
  ratios: [0.0, 0.5, 1.0]
train: {epochs: 1, batch_size: 16, warmup_steps: 1, max_length: 48, learning_rate: 0.001}
evaluate: {max_rows: 12, max_new_tokens: 12}
certify: {min_rows: 1, min_test_rows: 1}
"""


@pytest.fixture
def e2e_recipe(tmp_path) -> Path:
    path = tmp_path / "e2e.yaml"
    path.write_text(E2E_RECIPE)
    return path


@pytest.mark.slow
def test_every_stage_runs_and_the_release_reloads(e2e_recipe, data_root, monkeypatch):
    monkeypatch.chdir(REPO)
    runner = CliRunner()
    for stage in STAGES:
        result = runner.invoke(app, [stage, str(e2e_recipe), "--root", str(data_root)])
        assert result.exit_code == 0, (stage, result.output)

    generated = read_records(data_root / "generated" / "e2e" / "rows.parquet")
    assert len(generated) == 48 and all(r.source == "synthetic:toxify" for r in generated)
    filtered = read_records(data_root / "filtered" / "e2e" / "rows.parquet")
    assert {r.id for r in filtered} == {r.id for r in generated}
    assert all(r.drop_reason for r in filtered if not r.kept)

    metrics = json.loads((data_root / "eval" / "e2e" / "metrics.json").read_text())
    assert set(metrics["systems"]) == {"identity", "ratio-0.00", "ratio-0.50", "ratio-1.00"}
    rows = read_records(data_root / "eval" / "e2e" / "rows.parquet")
    for system, summary in metrics["systems"].items():
        mine = [r.attributes for r in rows if r.attributes["system"] == system]
        recomputed = sum(a["STA"] * a["SIM"] * a["FL"] for a in mine) / len(mine)
        assert summary["J"] == pytest.approx(recomputed, abs=1e-9)

    certificate = json.loads((data_root / "certify" / "e2e" / "certificate.json").read_text())
    assert {g["name"] for g in certificate["gates"]} >= {"j_ratio", "contamination", "distinct2_ratio"}
    assert all(set(g) >= {"value", "threshold", "passed"} for g in certificate["gates"])
    assert certificate["certified"] == all(g["passed"] for g in certificate["gates"])
    prov = certificate["provenance"]
    assert prov["recipe"]["sha256"] and prov["packages"]["torch"] and prov["profile"] == "tiny"

    release = data_root / "release" / "e2e"
    publish = ["publish", str(e2e_recipe), "--root", str(data_root), "--dry-run", str(release)]
    result = runner.invoke(app, publish)
    if not certificate["certified"]:
        assert result.exit_code == 2 and "not certified" in result.output
        result = runner.invoke(app, [*publish, "--force"])
    assert result.exit_code == 0, result.output
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    train = load_dataset("parquet", data_files=str(release / "data" / "train-*.parquet"), split="train")
    assert train.num_rows == sum(r.kept for r in filtered)
    card = DatasetCard.load(release / "README.md")
    assert "not-for-all-audiences" in card.data.tags
    assert "Content warning" in card.text


def _copy_project(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


@pytest.mark.slow
def test_dvc_repro_runs_the_pipeline_and_a_second_run_has_nothing_to_do(tmp_path):
    project = tmp_path / "project"
    _copy_project(project)
    (project / "recipes" / "tiny" / "toxify.yaml").write_text(E2E_RECIPE.replace("name: e2e", "name: toxify"))
    (project / "params.yaml").write_text("profile: tiny\nrecipes: [toxify]\nseed: 0\nzoo_scale: 0.02\n"
                                          "grid: {recipes: [], train: [], eval: []}\n")
    env = {**os.environ, "PATH": f"{Path(os.sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    # dvc.yaml is generated from params.yaml: after changing the recipe list, regenerate it (as repro.sh does).
    subprocess.run([os.sys.executable, "-m", "factory", "pipeline"], cwd=project, env=env, check=True)
    stages = (project / "dvc.yaml").read_text()
    assert "train-toxify" in stages and "train-detoxify" not in stages
    first = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert (project / "data" / "release" / "toxify" / "certificate.json").exists()
    assert (project / "data" / "plots" / "toxify-mixing.png").read_bytes()[:4] == b"\x89PNG"
    second = subprocess.run(["dvc", "repro"], cwd=project, env=env, capture_output=True, text=True)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stdout
    shown = subprocess.run(["dvc", "metrics", "show", "--json"], cwd=project, env=env, capture_output=True, text=True)
    metrics = json.loads(shown.stdout)
    flat = json.dumps(metrics)
    assert "data/metrics/toxify.json" in flat and "certified_mix" in flat and '"error"' not in flat
    assert (project / "data" / "release" / "toxify" / "report.html").read_bytes() == \
        (project / "data" / "report" / "toxify.html").read_bytes()
    assert 'href="toxify.html"' in (project / "data" / "report" / "index.html").read_text()
