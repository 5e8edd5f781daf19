"""Progress of long loops, --quiet / --verbose, the per-stage log file, and loss curves beside trained models."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import torch
from test_train_loop import SETTINGS, Regressor, collate
from typer.testing import CliRunner

from factory import progress
from factory.cli import app
from factory.train.loop import train

REPO = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def every_tenth(monkeypatch):
    """Plain lines at every 10 % however fast the loop; the console level restored after."""
    monkeypatch.setattr(progress, "PLAIN_MIN_GAP_SECONDS", 0.0)
    yield
    progress.set_console("normal")


def test_without_a_terminal_progress_is_a_plain_line_per_tenth(every_tenth, capsys):
    progress.set_console("normal")
    assert list(progress.progress(range(20), desc="score", unit="batch")) == list(range(20))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "score: 2/20 batch (10%), 0 s" and len(lines) == 10  # 10 % ... 90 %, then the closing line
    assert lines[-1].startswith("score: 20/20 batch (100%)") and lines[-1].endswith(", done")
    assert not progress.use_tqdm()  # vLLM's own bars follow the same rule


def test_quiet_prints_nothing_and_a_terminal_gets_a_bar_not_lines(every_tenth, capsys, monkeypatch):
    progress.set_console("quiet")
    list(progress.progress(range(20), desc="quiet loop"))
    assert capsys.readouterr().err == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    progress.set_console("normal")
    assert progress.use_tqdm()
    with progress.progress(total=20, desc="train", unit="step") as bar:
        for _ in range(20):
            bar.set_loss(0.5)
            bar.update(1)
        assert "20/20" in str(bar.bar) and "loss=0.5000" in str(bar.bar)  # a tqdm bar with the live loss
    drawn = terminal.getvalue()
    assert drawn.startswith("\rtrain:   0%|") and "(10%)" not in drawn  # the bar, no plain lines beside it


def test_progress_changes_no_number_of_a_training_run(every_tenth, tmp_path, caplog, monkeypatch):
    progress.set_console("quiet")
    quiet = Regressor()
    quiet_log = train(quiet, collate, 40, SETTINGS, seed=5, checkpoints=tmp_path / "quiet")
    monkeypatch.setattr("sys.stderr", Terminal())
    progress.set_console("verbose")
    with caplog.at_level(logging.INFO, logger="factory.progress"):
        shown = Regressor()
        shown_log = train(shown, collate, 40, SETTINGS, seed=5, checkpoints=tmp_path / "shown")
    assert shown_log.losses == quiet_log.losses and torch.equal(shown.linear.weight, quiet.linear.weight)
    assert any(r.getMessage().startswith("train: 15/15 step (100%), loss ") for r in caplog.records)


def test_quiet_prints_the_result_only_and_the_log_file_has_everything(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    root = tmp_path / "data"
    result = CliRunner().invoke(app, ["--quiet", "ingest", "toxify", "--root", str(root), "--limit", "5"])
    assert result.exit_code == 0 and result.output == f"ingest: wrote {root / 'human' / 'toxify'}\n"
    log = (root / "logs" / "ingest-toxify.log").read_text()
    assert "DEBUG factory: ingest toxify: started (console quiet" in log and f"ingest: wrote {root}" in log
    verbose = CliRunner().invoke(app, ["--verbose", "ingest", "toxify", "--root", str(root), "--limit", "5"])
    assert "ingest toxify: started (console verbose" in verbose.output
    assert "console verbose" in (root / "logs" / "ingest-toxify.log").read_text()  # replaced, not appended
    both = CliRunner().invoke(app, ["--quiet", "--verbose", "ingest", "toxify", "--root", str(root)])
    assert both.exit_code == 2 and "at most one of --quiet and --verbose" in both.output


def test_the_logs_are_no_dvc_output_or_dependency():
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    paths = [p if isinstance(p, str) else next(iter(p)) for stage in stages.values()
             for key in ("deps", "outs") for p in stage.get(key, [])]
    assert not [p for p in paths if "data/logs".startswith(p.rstrip("/")) or p.startswith("data/logs")]
    assert "/data/logs/" in (REPO / ".dvcignore").read_text().splitlines()


def test_trained_models_keep_their_loss_curve_and_the_plots_draw_it(tmp_path):
    from factory.plots import _png
    from factory.plots_loss import loss_curves, loss_rows, loss_spec
    from factory.train.loss_log import write_train_log

    losses = [3.0 - 0.01 * step for step in range(900)]
    mix, grid = tmp_path / "trained" / "x" / "ratio-0.00", tmp_path / "grid" / "x" / "trained" / "en" / "model"
    for folder in (mix, grid):
        folder.mkdir(parents=True)
        write_train_log(folder, {"steps": 900, "first_loss": losses[0]}, losses)
    assert json.loads((mix / "train_log.json").read_text())["losses"] == losses
    assert (mix / "loss.csv").read_text().splitlines()[:2] == ["step,loss", "1,3.0"]
    curves = loss_curves(tmp_path, "x")
    assert curves == {"ratio-0.00": losses, "grid/en": losses}
    rows = loss_rows(curves)
    assert len(rows) == 2 * 300 + 2 and rows[-1] == {"model": "grid/en", "step": 900, "loss": losses[-1]}
    assert _png(loss_spec("x: training loss per step", rows)).startswith(b"\x89PNG")


def test_grid_and_export_runs_keep_a_log_too_with_the_error_that_stopped_them(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    root = tmp_path / "data"
    result = CliRunner().invoke(app, ["export", "recipes/tiny/toxify.yaml", "--root", str(root)])
    assert result.exit_code == 2
    log = (root / "logs" / "export-toxify.log").read_text()
    assert "export toxify: stopped: " in log and "missing; run `factory" in log
    cell = CliRunner().invoke(app, ["grid", "score", "translate", "--setting", "en", "--lang", "de",
                                    "--root", str(root)])
    assert cell.exit_code == 2 and (root / "logs" / "grid-score-translate-en-de.log").is_file()
