"""Stage `report`: a static release report a person can read, and the numbers DVC shows.

`run(recipe)` writes
- `<root>/report/<recipe>.html`: the recipe's page (`factory.report_page`): verdict and every
  gate (with its 95% interval when the certificate has one), the mixing-study / LM plot, the
  grid heat map, training, corpus and diversity, languages, a searchable sample of kept and
  dropped rows, provenance. One file: plots embedded, style and script inline, no network.
  `publish` copies it into the release as `report.html`.
- `<root>/metrics/<recipe>.json`: one compact, numbers-only summary of the recipe (`summary`),
  the only metrics file the pipeline declares, so `dvc metrics show` is one row per recipe
  and under 30 columns (definitions and texts stay in the certificate and card).

`write_index(recipes)` writes `<root>/report/index.html`: every recipe's verdict and headline
numbers, linking its page.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from factory.kinds import kind_of
from factory.recipe import Recipe
from factory.core.records import atomic_file, read_json, write_json
from factory.report_facts import (SUMMARY_PLOT, ReportFacts, certificate_digest, gate_counts, load_facts,
                                  verdict)
from factory.report_html import Cell, figure, number, page, table, text
from factory.report_page import VERDICT_LABELS, recipe_body
from factory.core.layout import Layout
from factory.core.reports import Certificate


def page_path(root: Path, name: str) -> Path:
    """Where the report page of recipe `name` goes."""
    return Layout(root).report_page(name)


def metrics_path(root: Path, name: str) -> Path:
    """Where the numbers-only summary of recipe `name` (DVC metrics) goes."""
    return Layout(root).metrics(name)


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with only finite numbers (bools as 0/1), empty branches left out."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _numbers(value)
            if value:
                out[key] = value
        elif isinstance(value, bool):
            out[key] = int(value)
        elif isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = value
    return out


def _gate_value(certificate: dict[str, Any], name: str) -> dict[str, Any]:
    gate = next((g for g in certificate.get("gates", []) if g.get("name") == name), None)
    if gate is None:
        return {}
    bounds = gate.get("interval") or [None, None]
    return {name: gate.get("value"), f"{name}_ci": {"low": bounds[0], "high": bounds[1]}}


def _study(facts: ReportFacts) -> dict[str, Any]:
    systems = (facts.evaluation or {}).get("systems", {})
    if kind_of(facts.recipe).STUDY == "lm":
        stem = f"ratio-{facts.recipe.mix.certified_ratio:.2f}"
        per_metric: dict[str, Any] = {}
        for target, entry in (facts.evaluation or {}).get("targets", {}).items():
            base = systems.get(entry.get("base"), {})
            detoxified = systems.get(entry.get("detoxified", {}).get(stem), {})
            for metric in ("EMT", "TP", "PPL"):
                per_metric.setdefault(metric, {})[target] = {"base": base.get(metric),
                                                             "detoxified": detoxified.get(metric)}
        return per_metric
    certified = systems.get(f"ratio-{facts.recipe.mix.certified_ratio:.2f}", {})
    return {"J": {"copy_input": systems.get("identity", {}).get("J"),
                  "human_only": systems.get("ratio-0.00", {}).get("J"), "certified_mix": certified.get("J")},
            **_gate_value(facts.certificate, "j_ratio")}


def _grid(facts: ReportFacts) -> dict[str, Any]:
    cells = (facts.grid or {}).get("cells", [])
    if not cells:
        return {}
    return {"grid": {"J_mean": sum(c["J"] for c in cells) / len(cells),
                     "J_copy_input_mean": sum(c["identity_J"] for c in cells) / len(cells)}}


def summary(facts: ReportFacts) -> dict[str, Any]:
    """The compact numbers-only summary of a recipe for `dvc metrics show` / `diff`.

    Verdict (certified, inconclusive) and gate counts; kept and dropped rows, duplicate /
    refusal / copy rates, contamination, distinct-2 of both sides; pair kinds: J of copying
    the input, of the human-only and of the certified mix, the J ratio (and its 95% interval);
    LM kinds: EMT, TP and PPL of each target, base and detoxified; the grid's mean J.
    """
    decided, _ = verdict(facts.certificate)
    corpus = facts.corpus or {}
    rows, kept = corpus.get("rows"), corpus.get("kept")
    data = {
        "certified": int(decided == "certified"), "inconclusive": int(decided == "inconclusive"),
        "gates": gate_counts(facts.certificate),
        "rows": {"kept": kept, "dropped": rows - kept if rows is not None and kept is not None else None},
        "rate": {"near_dup": corpus.get("near_dup_rate"), "refusal": corpus.get("refusal_rate"),
                 "copy": corpus.get("copy_rate")},
        "contamination": corpus.get("contamination"),
        "distinct_2": {side: (corpus.get(side) or {}).get("distinct_2") for side in ("synthetic", "human")},
        **_study(facts), **_grid(facts),
    }
    return _numbers(data)


def _write_text(path: Path, content: str) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_text(content, encoding="utf-8")
    return path


def _crosslingual(facts: ReportFacts, root: Path) -> tuple[dict[str, Any], Any]:
    """The summary and the page-body maker of a crosslingual recipe (`factory.report_crosslingual`)."""
    from factory.report_crosslingual import cross_body, cross_summary, load_cross_facts

    cross = load_cross_facts(facts.recipe, Path(root), facts.certificate)
    return _numbers(cross_summary(cross)), lambda _facts: cross_body(cross)


def run(recipe: Recipe, *, root: Path = Path("data")) -> Path:
    """Write the report page and the DVC metrics summary of `recipe`; return the page."""
    facts = load_facts(recipe, Path(root))
    matrices = kind_of(recipe).STUDY == "matrices"
    numbers, body = _crosslingual(facts, root) if matrices else (summary(facts), recipe_body)
    write_json(metrics_path(root, recipe.name), numbers)
    title = f"{recipe.name}: release report (Detox Factory)"
    digest = certificate_digest(Layout(root).certificate(recipe.name))
    html = page(title, body(facts), script=True, meta={"factory-certificate": digest})
    return _write_text(page_path(root, recipe.name), html)


def _headline(recipe: Recipe, numbers: dict[str, Any]) -> str:
    if kind_of(recipe).STUDY == "matrices":
        from factory.report_crosslingual import cross_headline

        return cross_headline(numbers)
    if kind_of(recipe).STUDY == "lm":
        parts = [f"{metric} {target}: {number(v.get('base'))} → {number(v.get('detoxified'))}"
                 for metric in ("EMT", "TP") for target, v in numbers.get(metric, {}).items()]
        return "; ".join(parts)
    j = numbers.get("J", {})
    return (f"J human-only {number(j.get('human_only'))} → certified mix {number(j.get('certified_mix'))} "
            f"(ratio {number(numbers.get('j_ratio'))})")


def index_row(recipe: Recipe, root: Path) -> list[Any]:
    """One recipe's line of the index: link, kind, verdict, gates, kept rows, headline numbers."""
    certificate_path = Layout(root).certificate(recipe.name)
    link = Cell(f'<a href="{text(recipe.name)}.html">{text(recipe.name)}</a>')
    if not certificate_path.is_file() or not page_path(root, recipe.name).is_file():
        return [Cell(text(recipe.name)), recipe.kind, Cell('<span class="missing">no report yet</span>'), "", "", ""]
    decided, reason = verdict(Certificate.read(certificate_path).raw)
    path = metrics_path(root, recipe.name)
    numbers = read_json(path) if path.is_file() else {}
    gates = numbers.get("gates", {})
    badge = Cell(f'<span class="verdict {text(decided)}">{VERDICT_LABELS[decided]}</span> {text(reason)}')
    return [link, recipe.kind, badge, f"{gates.get('passed', 0)} of {sum(gates.values())}",
            numbers.get("rows", {}).get("kept"), _headline(recipe, numbers)]


def write_index(recipes: Sequence[Recipe], root: Path = Path("data")) -> Path:
    """Write `<root>/report/index.html`: every recipe's verdict and headline numbers, linking its page."""
    rows = [index_row(recipe, root) for recipe in recipes]
    profiles = sorted({r.profile for r in recipes})
    body = (f"<h1>Detox Factory: release reports</h1><p class=\"lead\">{len(recipes)} recipes, profile "
            f"{text(', '.join(profiles))}. Each page holds the verdict with every gate, the plots, the rows kept and "
            "dropped, and the provenance.</p>"
            + table(["recipe", "kind", "verdict", "gates passed", "kept rows", "headline"], rows)
            + figure(Layout(root).plots / SUMMARY_PLOT,
                     "J and its parts: human-data detoxifier vs the certified mix, per recipe",
                     "No summary plot: run `factory plots`."))
    return _write_text(Layout(root).report_index, page("Detox Factory: release reports", body))
