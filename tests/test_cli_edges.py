"""CLI edges: `--version`, `plots` and `status` with names or files, and the `--limit` record
that makes a trial run visible on its certificate."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from factory.core import limits
from factory.cli import app

REPO = Path(__file__).resolve().parent.parent
TOXIFY = REPO / "recipes" / "tiny" / "toxify.yaml"


def test_version_prints_the_package_version():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"detox-factory {version('detox-factory')}"


def test_plots_of_an_unknown_recipe_is_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "plots"
    result = CliRunner().invoke(app, ["plots", "no-such-recipe", "--root", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "nothing to plot for 'no-such-recipe'" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_status_accepts_a_recipe_file_and_reads_the_certificate_of_its_name(tmp_path):
    folder = tmp_path / "certify" / "toxify"
    folder.mkdir(parents=True)
    gates = [{"name": "rows", "value": 30, "threshold": 20, "op": ">=", "passed": True}]
    (folder / "certificate.json").write_text(json.dumps({"certified": True, "gates": gates}))
    result = CliRunner().invoke(app, ["status", str(TOXIFY), "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "toxify: CERTIFIED (1/1 gates)"
    provenance = {"limits": {"stages": {"ingest": None, "generate": 8}, "limited": True}}
    (folder / "certificate.json").write_text(json.dumps({"certified": True, "gates": gates, "provenance": provenance}))
    limited = CliRunner().invoke(app, ["status", "toxify", "--root", str(tmp_path)])
    assert limited.output.strip() == "toxify: CERTIFIED (1/1 gates); LIMITED RUN (generate --limit 8)"
    missing = CliRunner().invoke(app, ["status", str(tmp_path / "absent.yaml"), "--root", str(tmp_path)])
    assert missing.exit_code == 2 and "absent.yaml" in missing.output and "file not found" in missing.output


def test_a_stage_records_its_limit_and_the_provenance_collects_it(tmp_path, monkeypatch):
    from factory import provenance
    from factory.recipe import load_recipe

    monkeypatch.chdir(REPO)
    root = tmp_path / "data"
    runner = CliRunner()
    limited = runner.invoke(app, ["ingest", str(TOXIFY), "--root", str(root), "--limit", "30"])
    assert limited.exit_code == 0, limited.output
    assert json.loads((root / "human" / "toxify" / "limit.json").read_text()) == {"stage": "ingest", "limit": 30}
    collected = provenance.collect(load_recipe(TOXIFY), root)["limits"]
    assert collected["stages"] == {"ingest": 30} and collected["limited"] is True
    assert "generate" in collected["unrecorded"]
    whole = runner.invoke(app, ["ingest", str(TOXIFY), "--root", str(root)])
    assert whole.exit_code == 0, whole.output
    assert limits.collect("toxify", root)["stages"] == {"ingest": None}
    assert limits.collect("toxify", root)["limited"] is False


def test_plots_go_to_the_root_given_not_to_the_pipelines_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "trial"
    (root / "filtered" / "mine").mkdir(parents=True)
    sides = {side: {"distinct_1": 0.5, "distinct_2": 0.6, "distinct_3": 0.7} for side in ("synthetic", "human")}
    (root / "filtered" / "mine" / "report.json").write_text(json.dumps(sides))
    result = CliRunner().invoke(app, ["plots", "mine", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "plots" / "mine-diversity.png").is_file() and not (tmp_path / "data").exists()
