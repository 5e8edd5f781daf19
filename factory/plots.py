"""Offline plots: Vega-Lite specs rendered to PNG with vl-convert (no CDN, no browser).

- `<recipe>-mixing.png`: STA, SIM, FL and J of the reference detoxifier against the
  synthetic share of its training mix, with the J the certificate requires (dashed) and
  error bars on J: the certificate's 95% bootstrap interval over test inputs.
- `<recipe>-loss.png`: training loss per step of every model the recipe trained (`factory.plots_loss`).
- `<recipe>-diversity.png`: distinct-1/2/3 of the kept synthetic side next to the human side.
- `recipes-j.png`: J and its parts per recipe, human-data mix next to the certified mix.
- `<recipe>-lm.png` (kinds distill, selfgen): EMT, TP and PPL of each target LM, base vs
  detoxified, one panel per metric.
- `grid_heatmap_png` (kind translate, written by the grid report): multilingual J of every
  train setting (rows) on every eval language (columns), the value printed in each cell.
- `dvc-plots-template.html`: the page `dvc plots show` fills, with Vega inline (`factory.dvc_plots`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.dvc_plots import TEMPLATE_NAME, write_template
from factory.core.outputs import same_folder
from factory.plots_loss import loss_curves, loss_rows, loss_spec
from factory.core.records import atomic_dir, read_json
from factory.core.upstream import missing_input
from factory.core.layout import Layout

PARTS = ("STA", "SIM", "FL", "J")
Y_TITLE = "score (mean over test inputs); bars: 95% interval of J"


def _png(spec: dict[str, Any]) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_png(vl_spec=spec, scale=2)


def _line_spec(title: str, rows: list[dict[str, Any]], j_threshold: float | None = None,
               j_errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Lines of STA, SIM, FL and J against the ratio; a dashed rule at the certificate's J threshold;
    error bars (`j_errors`: ratio, low, high) on J."""
    ratios = sorted({r["ratio"] for r in rows})
    lines = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "ratio", "type": "quantitative", "title": "synthetic share of the training mix",
                  "axis": {"values": ratios, "format": ".2f"}},
            "y": {"field": "value", "type": "quantitative", "title": Y_TITLE if j_errors else Y_TITLE.split(";")[0],
                  "scale": {"domain": [0, 1]}},
            "color": {"field": "metric", "type": "nominal", "title": None,
                      "scale": {"domain": list(PARTS), "range": ["#4c78a8", "#f58518", "#54a24b", "#222222"]}},
            "strokeWidth": {"condition": {"test": "datum.metric === 'J'", "value": 3.5}, "value": 1.5},
        },
    }
    layers = [lines]
    if j_errors:
        layers.append({"data": {"values": j_errors}, "mark": {"type": "errorbar", "ticks": True, "color": "#222222"},
                       "encoding": {"x": {"field": "ratio", "type": "quantitative"},
                                    "y": {"field": "low", "type": "quantitative", "title": Y_TITLE},
                                    "y2": {"field": "high"}}})
    if j_threshold is not None:
        layers += [
            {"data": {"values": [{}]}, "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#222222"},
             "encoding": {"y": {"datum": j_threshold}}},
            {"data": {"values": [{}]}, "mark": {"type": "text", "align": "right", "dy": 10, "fontSize": 10},
             "encoding": {"x": {"datum": ratios[-1]}, "y": {"datum": j_threshold},
                          "text": {"value": f"J the certificate requires ({j_threshold:.3f})"}}},
        ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "width": 420, "height": 240,
        "data": {"values": rows},
        "layer": layers,
    }


def _bar_spec(title: str, rows: list[dict[str, Any]], x: str, group: str) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "width": 360, "height": 220,
        "data": {"values": rows},
        "mark": "bar",
        "encoding": {
            "x": {"field": x, "type": "nominal", "title": None, "axis": {"labelAngle": 0}, "sort": None},
            "xOffset": {"field": group, "sort": None},
            "y": {"field": "value", "type": "quantitative", "title": None},
            "color": {"field": group, "type": "nominal", "sort": None, "title": None},
        },
    }


def _certified_spec(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "J and its parts: human-data detoxifier vs the certified mix, per recipe",
        "data": {"values": rows},
        "facet": {"column": {"field": "recipe", "type": "nominal", "title": None}},
        "spec": {"width": 200, "height": 200, "mark": "bar", "encoding": {
            "x": {"field": "metric", "type": "nominal", "title": None, "sort": list(PARTS), "axis": {"labelAngle": 0}},
            "xOffset": {"field": "system", "sort": None},
            "y": {"field": "value", "type": "quantitative", "title": None, "scale": {"domain": [0, 1]}},
            "color": {"field": "system", "type": "nominal", "sort": None, "title": None}}},
    }


def j_threshold(certificate: dict[str, Any] | None, evaluation: dict[str, Any]) -> float | None:
    """The J a certified mix must reach: the j_ratio gate's threshold times the human-data J."""
    gate = next((g for g in (certificate or {}).get("gates", []) if g["name"] == "j_ratio"), None)
    human = evaluation.get("systems", {}).get("ratio-0.00", {}).get("J")
    return gate["threshold"] * human if gate and human is not None else None


def certified_rows(name: str, evaluation: dict[str, Any], certificate: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Long-format J parts of the human-data mix and the certified mix of one recipe."""
    mix = (certificate or {}).get("provenance", {}).get("study", {}).get("mix", {})
    chosen = mix.get("certified_ratio", 1.0)
    systems = evaluation.get("systems", {})
    rows = []
    for label, stem in (("human data (ratio 0)", "ratio-0.00"),
                        (f"certified mix (ratio {chosen:g})", f"ratio-{chosen:.2f}")):
        if stem in systems:
            rows += [{"recipe": name, "system": label, "metric": m, "value": systems[stem][m]} for m in PARTS]
    return rows


def mixing_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows (ratio, metric, value) of every trained mix."""
    rows = []
    for name, summary in evaluation.get("systems", {}).items():
        if name.startswith("ratio-"):
            rows += [{"ratio": summary["ratio"], "metric": m, "value": summary[m]} for m in PARTS]
    return rows


def j_error_rows(evaluation: dict[str, Any], certificate: dict[str, Any] | None) -> list[dict[str, Any]]:
    """(ratio, low, high) of the 95% interval of J of every trained mix, from the certificate."""
    intervals = (certificate or {}).get("intervals", {}).get("J", {})
    return [{"ratio": summary["ratio"], "low": intervals[name][0], "high": intervals[name][1]}
            for name, summary in evaluation.get("systems", {}).items()
            if name.startswith("ratio-") and intervals.get(name)]


def diversity_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format distinct-n rows of the synthetic and the human side."""
    return [{"n": f"distinct-{n}", "corpus": corpus, "value": report[corpus][f"distinct_{n}"]}
            for corpus in ("synthetic", "human") for n in (1, 2, 3) if corpus in report]


LM_METRICS = ("EMT", "TP", "PPL")


def lm_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-format (metric, model, system, value) rows of an LM evaluation: base vs each detoxified mix."""
    rows = []
    for target, entry in evaluation.get("targets", {}).items():
        labels = {"base": entry["base"],
                  **{f"detoxified ({stem})": label for stem, label in entry["detoxified"].items()}}
        for system, label in labels.items():
            summary = evaluation["systems"][label]
            rows += [{"metric": m, "model": target, "system": system, "value": summary[m]} for m in LM_METRICS]
    return rows


def _lm_spec(title: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "data": {"values": rows},
        "facet": {"column": {"field": "metric", "type": "nominal", "title": None, "sort": list(LM_METRICS)}},
        "spec": {"width": 150, "height": 200, "mark": "bar", "encoding": {
            "x": {"field": "model", "type": "nominal", "title": None},
            "xOffset": {"field": "system"},
            "y": {"field": "value", "type": "quantitative", "title": None},
            "color": {"field": "system", "type": "nominal"}}},
        "resolve": {"scale": {"y": "independent"}},
    }


def _heatmap_spec(title: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    axes = {"y": {"field": "setting", "type": "nominal", "title": "train setting", "sort": None},
            "x": {"field": "lang", "type": "nominal", "title": "eval language", "sort": None}}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "data": {"values": cells},
        "width": {"step": 56}, "height": {"step": 32},
        "encoding": axes,
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "J", "type": "quantitative", "title": "J",
                                                    "scale": {"domain": [0, 1], "scheme": "viridis"}}}},
            {"mark": {"type": "text", "fontSize": 11},
             "encoding": {"text": {"field": "J", "type": "quantitative", "format": ".2f"},
                          "color": {"condition": {"test": "datum.J > 0.5", "value": "black"}, "value": "white"}}},
        ],
    }


def grid_heatmap_png(cells: list[dict[str, Any]], title: str) -> bytes:
    """PNG heat map of J per (setting, lang) cell; `cells` are dicts with setting, lang and J."""
    return _png(_heatmap_spec(title, cells))


def render_all(recipes: Sequence[str], *, root: Path = Path("data"), out: Path = Path("data/plots"),
               overwrite: bool = False) -> Path:
    """Render every plot of `recipes` whose inputs exist into `out` (atomically).

    `out` other than <root>/plots is a folder the user named: an existing one not made by
    `factory plots` is refused unless `overwrite` (see `factory.core.outputs`).

    A recipe with neither evaluation metrics nor a filter report is an error: it names the
    missing folder and the stage to run first (a misspelt name is not silently skipped).
    """
    root = Path(root)
    for name in recipes:
        metrics, report = Layout(root).eval_metrics(name), Layout(root).filter_report(name)
        if not metrics.exists() and not report.exists():
            raise missing_input(metrics)
    summary_rows = []
    user_folder = not same_folder(out, Layout(root).plots)
    with atomic_dir(out, maker="factory plots", user_folder=user_folder, overwrite=overwrite, roots=[root]) as tmp:
        for name in recipes:
            evaluation_path = Layout(root).eval_metrics(name)
            report_path = Layout(root).filter_report(name)
            if evaluation_path.exists():
                evaluation = read_json(evaluation_path)
                if lm_rows(evaluation):
                    spec = _lm_spec(f"{name}: base vs detoxified", lm_rows(evaluation))
                    (tmp / f"{name}-lm.png").write_bytes(_png(spec))
                rows = mixing_rows(evaluation)
                if rows:
                    certificate_path = Layout(root).certificate(name)
                    certificate = read_json(certificate_path) if certificate_path.exists() else None
                    spec = _line_spec(f"{name}: mixing study ({evaluation.get('scores', 'soft')} scores)", rows,
                                      j_threshold(certificate, evaluation), j_error_rows(evaluation, certificate))
                    (tmp / f"{name}-mixing.png").write_bytes(_png(spec))
                    summary_rows += certified_rows(name, evaluation, certificate)
            if loss_rows(loss_curves(root, name)):
                spec = loss_spec(f"{name}: training loss per step", loss_rows(loss_curves(root, name)))
                (tmp / f"{name}-loss.png").write_bytes(_png(spec))
            if report_path.exists():
                rows = diversity_rows(read_json(report_path))
                if rows:
                    spec = _bar_spec(f"{name}: diversity of the kept synthetic side vs the human side",
                                     rows, "n", "corpus")
                    (tmp / f"{name}-diversity.png").write_bytes(_png(spec))
        if summary_rows:
            (tmp / "recipes-j.png").write_bytes(_png(_certified_spec(summary_rows)))
        write_template(tmp / TEMPLATE_NAME)
    return out
