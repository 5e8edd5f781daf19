"""Loss curves of every model a recipe trained, drawn by the plots stage as `<recipe>-loss.png`.

The curves come from the `losses` of each `train_log.json` (`factory.train.loss_log`) under
data/trained/<recipe>/ (the mixing study's detoxifiers, or the fine-tuned LMs) and
data/grid/<recipe>/trained/ (the cross-lingual grid's detoxifiers). Long curves are thinned
to at most `MAX_POINTS` points per model (every k-th step, the last step always kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.records import read_json

MAX_POINTS = 400


def loss_curves(root: Path, name: str) -> dict[str, list[float]]:
    """Per trained model (its folder below data/trained/<name>, or `grid/<setting>`), its per-step losses."""
    curves: dict[str, list[float]] = {}
    places = ((Path(root) / "trained" / name, ""), (Path(root) / "grid" / name / "trained", "grid/"))
    for folder, prefix in places:
        for log in sorted(folder.rglob("train_log.json")) if folder.is_dir() else []:
            losses = read_json(log).get("losses")
            if isinstance(losses, list) and losses:
                label = prefix + str(log.parent.relative_to(folder)).removesuffix("/model")
                curves[label] = [float(x) for x in losses]
    return curves


def loss_rows(curves: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Long-format (model, step, loss) rows, thinned to at most `MAX_POINTS` per model."""
    rows = []
    for label, losses in curves.items():
        every = max(1, -(-len(losses) // MAX_POINTS))
        steps = sorted({*range(0, len(losses), every), len(losses) - 1})
        rows += [{"model": label, "step": step + 1, "loss": losses[step]} for step in steps]
    return rows


def loss_spec(title: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Vega-Lite lines of training loss against the optimiser step, one colour per model."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "width": 420, "height": 240,
        "data": {"values": rows},
        "mark": {"type": "line", "strokeWidth": 1.5, "point": len(rows) <= 40},
        "encoding": {
            "x": {"field": "step", "type": "quantitative", "title": "optimiser step"},
            "y": {"field": "loss", "type": "quantitative", "title": "training loss", "scale": {"zero": False}},
            "color": {"field": "model", "type": "nominal", "title": None, "sort": None},
        },
    }
