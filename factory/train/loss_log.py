"""The training log written beside every trained model: train_log.json and loss.csv.

`train_log.json` holds the run's summary (rows, steps, first and final loss, ...) and
`losses`, the loss of every optimiser step; `loss.csv` holds the same curve as
`step,loss` rows (step 1 first) for spreadsheets and `dvc plots`. The plots stage draws
it (`factory.plots_loss`), the report page shows it. Logging changes no number of the run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from factory.core.records import write_json

LOSS_CSV = "loss.csv"
TRAIN_LOG = "train_log.json"


def write_train_log(folder: Path, summary: dict[str, Any], losses: Sequence[float]) -> None:
    """Write `summary` plus the per-step `losses` to folder/train_log.json, and the curve to folder/loss.csv."""
    write_json(Path(folder) / TRAIN_LOG, {**summary, "losses": [float(x) for x in losses]})
    with open(Path(folder) / LOSS_CSV, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss"])
        writer.writerows((step, repr(float(loss))) for step, loss in enumerate(losses, start=1))


def summary_only(log: dict[str, Any]) -> dict[str, Any]:
    """A train_log.json without its per-step losses (for summaries that other files copy)."""
    return {key: value for key, value in log.items() if key != "losses"}
