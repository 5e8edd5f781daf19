"""The generated pipeline in a real git + DVC repository: `dvc status` sees every change that matters.

The project's factory package, tiny recipes, scripts/factory and a params.yaml go into a fresh
repository; `factory pipeline` writes dvc.yaml; fake outputs and `dvc commit -f` make every stage
up to date without running a model. Each test changes one input, reads `dvc status`, and puts
the input back. Recipe `local` is the tiny toxify recipe reading its human pairs from a local TSV.
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

from factory.core.errors import FactoryError
from factory.pipeline import write_pipeline

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RECIPES = ("local", "translate")
VERBS = ("ingest", "generate", "filter", "mix", "train", "evaluate", "certify", "report", "publish")
PARAMS = "profile: tiny\nrecipes: [local, translate, crosslingual]\nseed: 0\nzoo_scale: 1.0\n" \
         "grid: {recipes: [], train: [], eval: []}\n"

pytestmark = pytest.mark.skipif(not (BIN / "dvc").exists(), reason="dvc not installed")


def _env(path: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    git = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
           for what, value in (("NAME", "t"), ("EMAIL", "t@t"))}
    return {**env, "PATH": path, "DVC_NO_ANALYTICS": "1", **git}


def _run(project: Path, *args: str, path: str | None = None) -> str:
    env = _env(path or f"{BIN}:{os.environ['PATH']}")
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def _fake_outputs(project: Path) -> None:
    """A file (or a folder with a file) at every output, metric and plot path of dvc.yaml, and at every
    data file a stage reads from inside another stage's output folder (`data/trained/<recipe>/limit.json`,
    `data/plots/<recipe>-mixing.png`)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"].values()
    for body in stages:
        for entry in body.get("outs", []) + body.get("metrics", []) + body.get("plots", []):
            path = project / (next(iter(entry)) if isinstance(entry, dict) else entry)
            if path.suffix:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}" if path.suffix == ".json" else "x\n")
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "part.txt").write_text("x\n")
    for body in stages:
        for dep in body.get("deps", []):
            path = project / dep
            if dep.startswith("data/") and path.suffix and not path.exists() and path.parent.is_dir():
                path.write_text("{}" if path.suffix == ".json" else "x\n")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A DVC repository of the project with two recipes (`local` reads a local TSV), every stage up to date."""
    project = tmp_path_factory.mktemp("pipeline") / "project"
    shutil.copytree(REPO / "factory", project / "factory", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "recipes" / "tiny", project / "recipes" / "tiny")
    (project / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "factory", project / "scripts" / "factory")
    shutil.copyfile(REPO / ".gitignore", project / ".gitignore")
    (project / "params.yaml").write_text(PARAMS)
    shutil.copyfile(REPO / "factory" / "data" / "seed" / "pairs.tsv", project / "mine.tsv")
    toxify = (project / "recipes" / "tiny" / "toxify.yaml").read_text()
    (project / "recipes" / "tiny" / "local.yaml").write_text(
        toxify.replace("name: toxify", "name: local").replace("source: seed", "source: ./mine.tsv"))
    _run(project, "git", "init", "-q")
    (project / ".git" / "info" / "exclude").write_text(".venv\n")
    _run(project, "dvc", "init", "-q")
    with (project / ".dvc" / "config").open("a") as config:
        config.write("[core]\n    analytics = false\n")
    with pytest.MonkeyPatch.context() as patch:  # `factory pipeline` in the project (its own copy of the package)
        patch.chdir(project)
        write_pipeline()
    _fake_outputs(project)
    _run(project, "dvc", "commit", "-f", "-q")
    _run(project, "git", "add", "-A")
    _run(project, "git", "commit", "-qm", "pipeline")
    assert _changed(project) == set()
    return project


def _changed(project: Path) -> set[str]:
    return set(json.loads(_run(project, "dvc", "status", "--json")))


class _Edit:
    """Replace text in a project file for the duration of a `with` block."""

    def __init__(self, project: Path, name: str, old: str, new: str):
        self.path, self.old, self.new = project / name, old, new

    def __enter__(self) -> None:
        self.text = self.path.read_text()
        assert self.old in self.text, (self.path, self.old)
        self.path.write_text(self.text.replace(self.old, self.new, 1))

    def __exit__(self, *exc) -> None:
        self.path.write_text(self.text)


def test_a_changed_certify_default_re_runs_certify(project):
    default = "min_j_ratio: Ratio = Field(0.7,"
    with _Edit(project, "factory/recipe/release.py", default, default.replace("0.7", "0.8")):
        changed = _changed(project)
    assert {f"certify-{recipe}" for recipe in RECIPES} <= changed


def test_a_changed_records_module_re_runs_every_stage_that_imports_it(project):
    with _Edit(project, "factory/core/records.py", '"""', '"""Edited. '):
        changed = _changed(project)
    assert {f"{verb}-{recipe}" for verb in ("ingest", "mix", "certify") for recipe in RECIPES} <= changed


def test_an_edited_local_human_file_re_runs_ingest_of_its_recipe_only(project):
    with _Edit(project, "mine.tsv", "\n", "\n\n"):
        assert _changed(project) == {"ingest-local"}


def test_an_edited_recipe_field_re_runs_the_stages_that_read_it_and_shows_in_params_diff(project):
    with _Edit(project, "recipes/tiny/local.yaml", "min_rows: 20", "min_rows: 25"):
        changed = _changed(project)
        diff = json.loads(_run(project, "dvc", "params", "diff", "--json"))
    assert changed == {"certify-local", "publish-local"}  # the two stages that read the whole recipe
    assert diff == {"recipes/tiny/local.yaml": {"certify.min_rows": {"old": 20, "new": 25, "diff": 5}}}


def test_an_evaluation_setting_re_runs_evaluate_not_generate(project):
    with _Edit(project, "recipes/tiny/local.yaml", "evaluate:\n", "evaluate:\n  num_beams: 2\n"):
        changed = _changed(project)
    assert changed == {"evaluate-local", "certify-local", "publish-local"}


def test_a_sampling_setting_re_runs_generate(project):
    with _Edit(project, "recipes/tiny/local.yaml", "temperature: 0.8", "temperature: 0.7"):
        changed = _changed(project)
    assert {"generate-local", "certify-local", "publish-local"} <= changed
    assert not {f"{verb}-local" for verb in ("ingest", "filter", "mix", "train", "evaluate", "report")} & changed


CROSS_EVALUATE = {f"evaluate-crosslingual-{setting}" for setting in (
    "zero-shot", "zero-shot-dpo", "sft-corpus-100",
    *(f"{method}-{data}-100" for method in ("sft", "dpo") for data in ("en", "de", "es", "all")))}
"""The tiny crosslingual recipe's evaluate stages: one per model (`evaluate_stages: per_setting`)."""


def test_a_crosslingual_gate_threshold_re_runs_certify_not_the_models(project):
    """Each crosslingual stage tracks only the parts of the section its code reads: a threshold is certify's."""
    with _Edit(project, "recipes/tiny/crosslingual.yaml", "min_reduction: 0.0", "min_reduction: 0.01"):
        assert _changed(project) == {"certify-crosslingual", "report-crosslingual"}


def test_a_crosslingual_decoding_setting_re_runs_the_evaluation_not_the_training(project):
    with _Edit(project, "recipes/tiny/crosslingual.yaml", "top_p: 0.9", "top_p: 0.8"):
        changed = _changed(project)
    assert changed == CROSS_EVALUATE | {"evaluate-crosslingual", "certify-crosslingual", "report-crosslingual"}
    with _Edit(project, "recipes/tiny/crosslingual.yaml", "r: 8", "r: 4"):  # the LoRA rank: every trained model
        changed = _changed(project)
    assert {"train-crosslingual-sft-de-100", "train-crosslingual-dpo-all-100"} <= changed
    assert "generate-crosslingual" not in changed and "evaluate-crosslingual-zero-shot" not in changed


def test_a_section_written_out_later_makes_the_pipeline_stale(project, monkeypatch):
    """A section left at its defaults has no value DVC could track; writing it changes what `factory pipeline`
    generates, so the stale-pipeline check (and scripts/repro.sh, which regenerates) catch it."""
    monkeypatch.chdir(project)
    write_pipeline(check=True)
    with _Edit(project, "recipes/tiny/local.yaml", "evaluate:\n", "engine:\n  name: local\nevaluate:\n"):
        with pytest.raises(FactoryError, match="is not what `factory pipeline` writes"):
            write_pipeline(check=True)


def test_a_comment_in_a_recipe_changes_nothing(project):
    with _Edit(project, "recipes/tiny/local.yaml", "name: local", "# a note\nname: local"):
        assert _changed(project) == set()


def test_translation_prompts_re_run_translate_generation_only(project):
    with _Edit(project, "factory/prompts_translate.py", '"""', '"""Edited. '):
        changed = _changed(project)
    assert "generate-translate" in changed
    assert not {stage for stage in changed if stage.startswith("ingest-")} and "generate-local" not in changed


@pytest.mark.slow
def test_exp_run_sets_a_recipe_field_without_the_venv_on_path(project):
    """`dvc exp run -S recipe:field=value` runs ingest through scripts/factory with only the project's .venv."""
    (project / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    dvc = str(BIN / "dvc")
    try:
        _run(project, dvc, "exp", "run", "-q", "-n", "split30", "-S", "recipes/tiny/local.yaml:human.test_fraction=0.3",
             "-S", "recipes/tiny/local.yaml:generate.sampling.temperature=0.7", "ingest-local", path="/usr/bin:/bin")
        shown = _run(project, dvc, "exp", "show", "--json", path="/usr/bin:/bin")
        stats = json.loads((project / "data" / "human" / "local" / "stats.json").read_text())
    finally:
        (project / ".venv").unlink()
        _run(project, "git", "checkout", "--", ".")
        _run(project, "dvc", "checkout", "-q", "--force")
    experiments = [e for row in json.loads(shown) for e in row.get("experiments") or []]
    runs = {run["name"]: run for e in experiments for run in e.get("revs", [])}
    params = runs["split30"]["data"]["params"]["recipes/tiny/local.yaml"]["data"]
    assert params["human"]["test_fraction"] == 0.3
    assert params["generate"]["sampling"]["temperature"] == 0.7  # a field of another stage (generate) is set too
    assert stats  # ingest really ran, through scripts/factory and the project's .venv
