"""`dvc metrics diff` between two commits shows how the mixing study and certificate changed, and
`dvc metrics show` prints a table a person can read.

A tiny git + DVC project declares the project's own metrics and plots (copied from the
toxify stages of dvc.yaml: the report's summary and the evaluation's plot data) on stages that
only copy prepared JSON/CSV files into place, so no model runs.
It keeps the project's .gitignore (data/ is not in git), so the old numbers must come from
DVC's cache through the committed dvc.lock, exactly as in the real pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
STAGES = ("evaluate", "report")

COPY = """\
import shutil, sys
from pathlib import Path
for source, target in zip(sys.argv[1::2], sys.argv[2::2]):
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
"""


def _mini_pipeline() -> dict:
    """The project's evaluate/certify metric and plot declarations on copy-only stages."""
    real = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    stages = {}
    for name in STAGES:
        body = real[f"{name}-toxify"]
        declared = [next(iter(entry)) if isinstance(entry, dict) else entry
                    for entry in body.get("metrics", []) + body.get("plots", [])]
        pairs = " ".join(f"source/{Path(p).name} {p}" for p in declared)
        stages[name] = {"cmd": f"python copy.py {pairs}", "deps": ["source", "copy.py"],
                        **{kind: body[kind] for kind in ("metrics", "plots") if kind in body}}
    return {"stages": stages}


def _write_sources(project: Path, j_synthetic: float, certified: int) -> None:
    source = project / "source"
    source.mkdir(exist_ok=True)
    systems = {"ratio-0.00": {"J": 0.5, "STA": 0.8}, "ratio-1.00": {"J": j_synthetic, "STA": 0.7}}
    (source / "metrics.json").write_text(json.dumps({"scores": "soft", "systems": systems}))
    (source / "mixing.csv").write_text(f"ratio,STA,SIM,FL,J,ChrF\n0.0,0.8,0.8,0.9,0.5,40\n"
                                       f"1.0,0.7,0.8,0.9,{j_synthetic},35\n")
    (source / "toxify.json").write_text(json.dumps({"certified": certified, "j_ratio": j_synthetic / 0.5,
                                                    "J": {"human_only": 0.5, "certified_mix": j_synthetic}}))


def _run(project: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


@pytest.mark.skipif(shutil.which("dvc", path=str(Path(sys.executable).parent)) is None, reason="dvc not installed")
def test_metrics_diff_between_two_commits_shows_the_change(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(REPO / ".gitignore", project / ".gitignore")
    (project / "copy.py").write_text(COPY)
    (project / "params.yaml").write_text("recipes: [toxify]\n")
    (project / "dvc.yaml").write_text(yaml.safe_dump(_mini_pipeline(), sort_keys=False))
    _run(project, "git", "init", "-q")
    _run(project, "dvc", "init", "-q")
    _run(project, "dvc", "config", "core.analytics", "false")
    for j, certified in ((0.3, 0), (0.45, 1)):
        _write_sources(project, j, certified)
        _run(project, "dvc", "repro", "-q")
        _run(project, "git", "add", "-A")
        _run(project, "git", "commit", "-qm", f"J={j}")
    assert "data/eval" not in _run(project, "git", "ls-files")  # the numbers are not in git ...

    diff = json.loads(_run(project, "dvc", "metrics", "diff", "HEAD~1", "--json"))  # ... yet DVC compares them
    j = diff["data/metrics/toxify.json"]["J.certified_mix"]
    assert (j["old"], j["new"]) == (0.3, 0.45) and j["diff"] == pytest.approx(0.15)
    assert diff["data/metrics/toxify.json"]["certified"] == {"old": 0, "new": 1, "diff": 1}
    assert "J.human_only" not in diff["data/metrics/toxify.json"]  # unchanged values are left out
    plots = _run(project, "dvc", "plots", "diff", "HEAD~1", "--json", "--split")
    assert "data/eval/toxify/mixing.csv" in plots


def _declared_metrics() -> list[str]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return [entry for body in stages.values() for entry in body.get("metrics", [])]


@pytest.mark.skipif(shutil.which("dvc", path=str(Path(sys.executable).parent)) is None, reason="dvc not installed")
def test_metrics_show_is_a_table_a_person_can_read(tmp_path):
    """Every metrics file dvc.yaml declares, as the stages write them for all six kinds: no file fails to
    load, only numbers (no definitions as columns), one row per recipe (at most 30 columns each, the crosslingual
    recipe's cells included) plus one per crosslingual cell, at most 40 columns in all."""
    from report_fixtures import build_reports

    root, _ = build_reports(tmp_path / "outputs", plots=False)
    project = tmp_path / "project"
    project.mkdir()
    declared = _declared_metrics()
    for path in declared:
        source = root / Path(path).relative_to("data")
        if source.is_file():
            (project / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, project / path)
    (project / "dvc.yaml").write_text(yaml.safe_dump({"metrics": declared}))
    _run(project, "git", "init", "-q")
    _run(project, "dvc", "init", "-q")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["dvc", "metrics", "show", "--md"], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "failed to load" not in done.stderr, done.stderr
    header = done.stdout.splitlines()[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert len(columns) <= 40, (len(columns), " ".join(columns))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in done.stdout.splitlines()[2:] if line.strip()]
    recipe_rows = [row for row in rows if row[0].startswith("data/metrics/")]
    cell_rows = [row for row in rows if row[0].startswith("data/crosslingual/crosslingual/cells/")]
    assert len(recipe_rows) == 6 and any(row[0] == "data/metrics/crosslingual.json" for row in rows)
    assert len(cell_rows) == 33 and len(rows) == 6 + 33  # crosslingual: 11 models x 3 eval languages
    used = {row[0]: {name for name, value in zip(columns, row) if value not in ("", "-")} for row in rows}
    cell_columns = {f"{m}.{k}" for m in ("toxicity", "reduction", "perplexity") for k in ("mean", "low", "high")}
    assert used["data/crosslingual/crosslingual/cells/sft-de-100/es.json"] == {"Path", "prompts", *cell_columns}
    assert "reduction.mean" not in used["data/crosslingual/crosslingual/cells/zero-shot/es.json"]
    crosslingual = set().union(*(cols for path, cols in used.items() if "crosslingual" in path))
    assert all(len(cols) <= 30 for cols in used.values()) and len(crosslingual) <= 30, sorted(crosslingual)
    assert "definition" not in done.stdout and "J = " not in done.stdout
