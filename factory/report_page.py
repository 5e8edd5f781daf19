"""The sections of one recipe's report page, each a function of `ReportFacts` returning HTML.

Sections: verdict and gates (value, 95% interval where the certificate has one, threshold,
verdict), the mixing study (plot and every system's scores), the cross-lingual grid, training
(rows, steps, losses; curves when the logs have them), the corpus and its diversity, languages,
a searchable sample of kept and dropped rows, and provenance.
"""

from __future__ import annotations

import re
from typing import Any

from factory.core import limits
from factory.kinds import kind_of
from factory.report_facts import (SAMPLE_KEPT, SAMPLE_PER_REASON, ReportFacts, gate_counts, gate_verdict,
                                  language_counts, sample_rows, verdict)
from factory.report_html import Cell, definition_list, figure, interval, missing, number, section, table, text

VERDICT_LABELS = {"certified": "CERTIFIED", "not_certified": "NOT CERTIFIED", "inconclusive": "INCONCLUSIVE"}
SCORE_ORDER = ("ratio", "train_rows", "STA", "SIM", "FL", "J", "ChrF", "BLEU", "EMT", "TP", "PPL", "distinct_2")
DIVERSITY_KEYS = ("rows", "tokens", "vocabulary", "distinct_1", "distinct_2", "distinct_3", "mattr", "toxic_terms",
                  "toxic_vocabulary", "toxic_entropy", "toxic_top_k_share", "toxic_top_terms", "clusters")
CORPUS_KEYS = ("rows", "kept", "near_dup_rate", "refusal_rate", "copy_rate", "contamination",
               "contamination_dropped", "train_test_leakage", "distinct2_ratio")


def header(facts: ReportFacts) -> str:
    """Title, recipe description and the verdict banner (and LIMITED RUN when a stage ran with --limit)."""
    recipe, certificate = facts.recipe, facts.certificate
    decided, reason = verdict(certificate)
    counts = gate_counts(certificate)
    lead = f"{recipe.kind} recipe, {recipe.profile} profile. {recipe.description or ''}".strip()
    tally = f"{counts['passed']} of {sum(counts.values())} gates passed" + "".join(
        f", {counts[k]} {k}" for k in ("failed", "inconclusive") if counts[k])
    why = "" if decided == "certified" else f"<br>{text(reason)}"
    parts = [f"<h1>{text(recipe.name)}: release report</h1>", f'<p class="lead">{text(lead)}</p>',
             f'<p><span class="verdict {text(decided)}">{VERDICT_LABELS[decided]}</span> {text(tally)}{why}</p>']
    limited = limits.limited_stages(certificate)
    if limited:
        parts.append(f'<p class="banner limited"><strong>LIMITED RUN</strong>: made by stages run with --limit '
                     f"({text(limits.describe(limited))}); the numbers describe a sample, not the whole corpus.</p>")
    if recipe.profile == "tiny":
        parts.append('<p class="banner warning">Tiny profile: the models are tiny, so these numbers show that the '
                     "pipeline works and say nothing about the method.</p>")
    return "".join(parts)


def gates_section(facts: ReportFacts) -> str:
    """Every gate: value, 95% interval (when the certificate has intervals), threshold, verdict, note."""
    gates = facts.certificate.get("gates", [])
    with_intervals = any(g.get("interval") for g in gates)
    headers = ["gate", "value", *(["95% interval"] if with_intervals else []), "needs", "verdict", "note"]
    rows, attributes = [], []
    for g in gates:
        outcome = gate_verdict(g)
        note = "; ".join(str(x) for x in (g.get("note"), g.get("reason")) if x)
        if g.get("depends_on"):
            note = f"{note}; rests on {g['depends_on']}".lstrip("; ")
        cells = [g.get("name"), g.get("value"), *([Cell(interval(g.get("interval")), "num")] if with_intervals else []),
                 Cell(f"{text(g.get('op', ''))} {number(g.get('threshold'))}", "num"),
                 Cell(text(outcome), "verdict-cell"), note]
        rows.append(cells)
        attributes.append({"class": outcome})
    statistics = facts.certificate.get("statistics")
    extra = ""
    if statistics:
        extra = (f"<p>Decision: {text(statistics.get('decision', ''))}; intervals: "
                 f"{text(statistics.get('interval', ''))} over {text(statistics.get('resampled', ''))} "
                 f"({number(statistics.get('resamples'))} resamples).</p>")
    elif not with_intervals:
        extra = missing("This certificate has no intervals: each gate is decided on its point value.")
    return section("gates", "Verdict and gates", table(headers, rows, row_attributes=attributes) + extra)


def _interval_of(facts: ReportFacts, metric: str, system: str) -> list[float] | None:
    return (facts.certificate.get("intervals") or {}).get(metric, {}).get(system)


def scores_table(facts: ReportFacts) -> str:
    """Every evaluated system with its scores; a metric's 95% interval beside it when the certificate has one."""
    systems = (facts.evaluation or {}).get("systems", {})
    keys = [k for k in SCORE_ORDER if any(k in s for s in systems.values())]
    rows = []
    for name, scores in systems.items():
        cells: list[Any] = [name]
        for key in keys:
            bounds = _interval_of(facts, key, name)
            value = number(scores.get(key))
            cells.append(Cell(f"{value} {interval(bounds)}".strip(), "num"))
        rows.append(cells)
    return table(["system", *keys], rows)


def study_section(facts: ReportFacts) -> str:
    """The mixing study (pair kinds) or base vs detoxified LMs (LM kinds): plot and scores."""
    if facts.evaluation is None:
        return section("study", "Evaluation", missing("No evaluation (data/eval/<recipe>/metrics.json) yet."))
    lm = kind_of(facts.recipe).STUDY == "lm"
    image = facts.images.get("lm" if lm else "mixing")
    caption = ("EMT, TP and PPL of each target LM, base vs detoxified" if lm else
               "STA, SIM, FL and J of the reference detoxifier against the synthetic share of its training mix")
    definition = facts.evaluation.get("definition")
    body = figure(image, caption, "No plot: run `factory plots` (the DVC stage `plots`).") + scores_table(facts)
    if definition:
        body += f"<p><strong>Definition.</strong> {text(definition)}</p>"
    return section("study", "Base vs detoxified models" if lm else "Mixing study", body)


def grid_section(facts: ReportFacts) -> str:
    """The cross-lingual grid: heat map and every cell (translate recipes with a grid)."""
    if facts.grid is None:
        return ""
    cells = facts.grid.get("cells", [])
    rows = [[c.get("setting"), c.get("lang"), c.get("rows"), c.get("J"), c.get("STA"), c.get("SIM"), c.get("ChrF"),
             c.get("identity_J")] for c in cells]
    body = figure(facts.images.get("heatmap"), "Multilingual J per train setting (rows) and eval language (columns)",
                  "No heat map: run `factory grid report`.")
    body += table(["train setting", "eval language", "test rows", "J", "STA", "SIM", "ChrF", "J of copying the input"],
                  rows)
    if facts.grid.get("definition"):
        body += f"<p><strong>Definition.</strong> {text(facts.grid['definition'])}</p>"
    return section("grid", "Cross-lingual grid", body)


def _loss_svg(curve: list[float], width: int = 320, height: int = 90) -> str:
    low, high = min(curve), max(curve)
    span = (high - low) or 1.0
    step = width / max(len(curve) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - (v - low) / span * height:.1f}" for i, v in enumerate(curve))
    return (f'<svg width="{width}" height="{height + 4}" role="img"><title>loss from {number(curve[0])} to '
            f'{number(curve[-1])} over {len(curve)} steps</title><polyline fill="none" stroke="#4c78a8" '
            f'stroke-width="1.5" points="{points}"/></svg>')


def training_section(facts: ReportFacts) -> str:
    """Per trained model: rows, steps, first and final loss, and its loss curve when the log has one."""
    if not facts.training:
        return section("training", "Training", missing("No training summary (data/trained/<recipe>/summary.json)."))
    rows = []
    for label, summary in facts.training.items():
        curve = facts.losses.get(label)
        rows.append([label, summary.get("rows"), summary.get("steps"), summary.get("resumed_from"),
                     summary.get("first_loss"), summary.get("final_loss"),
                     Cell(_loss_svg(curve)) if curve else Cell('<span class="missing">no per-step log</span>')])
    note = "" if facts.losses else missing("The training logs hold the first and final loss only; no curves to draw.")
    plot = figure(facts.images.get("loss"), "Training loss per optimiser step of every trained model",
                  "No loss plot: run `factory plots` (the DVC stage `plots`).")
    return section("training", "Training", plot + table(["model", "rows", "steps", "resumed from", "first loss",
                                                   "final loss (mean of last 10)", "loss curve"], rows) + note)


def _figure(value: Any) -> Any:
    """A diversity figure for a cell: numbers as they are, `[[term, count], ...]` as `term count, ...`."""
    if isinstance(value, list):
        terms = ", ".join(" ".join(map(str, item)) if isinstance(item, list) else str(item) for item in value)
        return Cell(text(terms or "–"), "text")
    return value


def corpus_section(facts: ReportFacts) -> str:
    """Outcome counts, the corpus gates' inputs and diversity of the kept synthetic side vs the human side."""
    corpus = facts.corpus
    if corpus is None:
        return section("corpus", "Corpus and diversity",
                       missing("No filter report (data/filtered/<recipe>/report.json)."))
    outcomes = corpus.get("outcomes", {})
    body = "<h3>Outcomes</h3>" + table(["outcome", "rows"], sorted(outcomes.items(), key=lambda kv: -kv[1]))
    body += table(["figure", "value"], [[key, corpus.get(key)] for key in CORPUS_KEYS if key in corpus])
    sides = [side for side in ("synthetic", "human") if isinstance(corpus.get(side), dict)]
    if sides:
        body += "<h3>Diversity</h3>" + table(["figure", *[f"{s} side" for s in sides]],
                                             [[k, *[_figure(corpus[s].get(k)) for s in sides]] for k in DIVERSITY_KEYS
                                              if any(k in corpus[s] for s in sides)])
    body += figure(facts.images.get("diversity"), "distinct-1/2/3 of the kept synthetic side next to the human side",
                   "No diversity plot: run `factory plots`.")
    return section("corpus", "Corpus and diversity", body)


def languages_section(facts: ReportFacts) -> str:
    """Rows kept and dropped per language (and, for translate, the check statistics per language)."""
    if facts.rows is None:
        return ""
    counts = language_counts(facts.rows)
    rows = [[lang, c["rows"], c["kept"], c["dropped"], ", ".join(f"{r} {n}" for r, n in c["reasons"].most_common())]
            for lang, c in counts.items()]
    body = table(["language", "rows", "kept", "dropped", "dropped by reason"], rows)
    stats = (facts.certificate.get("metrics") or {}).get("languages")
    if isinstance(stats, dict) and stats:
        keys = sorted({k for entry in stats.values() if isinstance(entry, dict) for k in entry
                       if all(isinstance(e.get(k), (int, float, type(None))) for e in stats.values())})
        body += "<h3>Checks per language</h3>" + table(["figure", *stats],
                                                       [[k, *[entry.get(k) for entry in stats.values()]]
                                                        for k in keys])
    return section("languages", "Languages", body)


def _row_cells(row: Any, pairs: bool) -> list[Any]:
    side = row.attributes.get("drop_side") if not row.kept else None
    reason = f"{row.drop_reason} ({side})" if side else (row.drop_reason or "")
    texts = [row.toxic or "", row.neutral or ""] if pairs else [row.text or ""]
    return [Cell("kept" if row.kept else "dropped", "status"), reason, row.lang, row.source,
            *[Cell(text(t), "text") for t in texts], row.drop_ref or "", row.id]


def rows_section(facts: ReportFacts) -> str:
    """A seeded sample of kept rows and of dropped rows per reason, searchable by text and reason."""
    if facts.rows is None:
        return section("rows", "Kept and dropped rows",
                       missing("No filtered rows (data/filtered/<recipe>/rows.parquet)."))
    sample = sample_rows(facts.rows, facts.recipe.seed)
    reasons = sorted({r.drop_reason for r in sample if r.drop_reason})
    options = '<option value="">every row</option><option value="kept">kept rows</option>' + "".join(
        f'<option value="{text(r)}">dropped: {text(r)}</option>' for r in reasons)
    pairs = any(r.kind == "pair" for r in sample)
    search = ('<div class="search" data-table="row-table"><input type="search" placeholder="search the rows" '
              f'aria-label="search the rows"><select aria-label="drop reason">{options}</select>'
              '<span class="count"></span></div>')
    headers = ["status", "drop reason", "lang", "source", *(["toxic", "neutral"] if pairs else ["text"]),
               "matched row", "id"]
    intro = (f"<p>A seeded sample of {len(sample)} of {len(facts.rows)} rows: up to {SAMPLE_KEPT} kept rows and up to "
             f"{SAMPLE_PER_REASON} dropped rows of every drop reason. Type to filter; texts are shown exactly as "
             "generated (offensive by design).</p>")
    body = intro + search + table(headers, [_row_cells(r, pairs) for r in sample], css="rows", table_id="row-table",
                                  row_attributes=[{"class": "kept" if r.kept else "dropped",
                                                   "data-reason": r.drop_reason or "kept"} for r in sample])
    return section("rows", "Kept and dropped rows", body)


def provenance_section(facts: ReportFacts) -> str:
    """Recipe hash, commit, models, packages, limits and the rest of the certificate's provenance."""
    provenance = facts.certificate.get("provenance", {})
    recipe = provenance.get("recipe", {})
    git = provenance.get("git", {})
    head = table(["what", "value"], [["recipe", recipe.get("path") or facts.recipe.name],
                                     ["recipe sha256", recipe.get("sha256")], ["git commit", git.get("commit")],
                                     ["uncommitted changes", git.get("dirty")],
                                     ["profile", facts.certificate.get("profile")]])
    body = head + f"<details><summary>Everything the certificate records</summary>{definition_list(provenance)}" \
                  "</details>"
    return section("provenance", "Provenance", body)


SECTION_HEAD = re.compile(r'<section id="([^"]*)"><h2>(.*?)</h2>')
"""The anchor and (escaped) title at the start of a section made by `report_html.section`."""
SECTIONS = (gates_section, study_section, grid_section, training_section, corpus_section, languages_section,
            rows_section, provenance_section)


def recipe_body(facts: ReportFacts) -> str:
    """The whole body of a recipe's page: header, table of contents, every section that has content."""
    sections = [html for html in (make(facts) for make in SECTIONS) if html]
    heads = [SECTION_HEAD.match(html) for html in sections]
    toc = '<nav class="toc">' + "".join(f'<a href="#{m[1]}">{m[2]}</a>' for m in heads if m) + "</nav>"
    return header(facts) + toc + "".join(sections)
