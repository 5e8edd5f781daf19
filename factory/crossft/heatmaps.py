"""PNG heat maps of a matrix (train setting x eval language), rendered offline with vl-convert.

Each cell shows its point estimate and, below it, the 95% bootstrap interval. Colour: YlOrRd
for toxicity and perplexity (as the reference's `evaluation/cross-lingual_toxic.py`), a
diverging scheme centred on 0 for the reduction against zero-shot.
"""

from __future__ import annotations

from typing import Any, Sequence

from factory.crossft.matrices import Cell

TITLES = {"toxicity": "mean toxicity of the continuations", "reduction": "toxicity reduction vs zero-shot",
          "perplexity": "mean perplexity of the continuations"}


def heatmap_rows(cells: Sequence[Cell], metric: str) -> list[dict[str, Any]]:
    """One plot row per cell that has the metric: setting, lang, value and its label lines."""
    rows = []
    for cell in cells:
        estimate = getattr(cell, metric)
        if estimate is None or estimate.value is None:
            continue
        interval = f"[{estimate.interval[0]:.2f}, {estimate.interval[1]:.2f}]" if estimate.interval else "no interval"
        rows.append({"setting": cell.setting, "lang": cell.lang, "value": estimate.value,
                     "label": f"{estimate.value:.2f}", "interval": interval})
    return rows


def heatmap_spec(title: str, rows: list[dict[str, Any]], metric: str, settings: Sequence[str],
                 langs: Sequence[str]) -> dict[str, Any]:
    """The Vega-Lite spec of one heat map."""
    scale: dict[str, Any] = {"scheme": "yelloworangered"}
    if metric == "reduction":
        scale = {"scheme": "redblue", "domainMid": 0}
    axes = {"y": {"field": "setting", "type": "nominal", "title": "train setting", "sort": list(settings)},
            "x": {"field": "lang", "type": "nominal", "title": "eval language", "sort": list(langs)}}
    text = {"type": "text", "fontSize": 10}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "data": {"values": rows}, "width": {"step": 92}, "height": {"step": 36},
        "encoding": axes,
        "layer": [
            {"mark": "rect", "encoding": {"color": {"field": "value", "type": "quantitative", "title": metric,
                                                    "scale": scale}}},
            {"mark": {**text, "dy": -6, "fontWeight": "bold"}, "encoding": {"text": {"field": "label"}}},
            {"mark": {**text, "dy": 7, "fontSize": 8}, "encoding": {"text": {"field": "interval"}}},
        ],
    }


def heatmap_png(cells: Sequence[Cell], metric: str, settings: Sequence[str], langs: Sequence[str],
                title: str) -> bytes:
    """PNG bytes of the heat map of `metric` over `cells`."""
    import vl_convert as vlc

    spec = heatmap_spec(f"{title}: {TITLES[metric]}", heatmap_rows(cells, metric), metric, settings, langs)
    return vlc.vegalite_to_png(vl_spec=spec, scale=2)
