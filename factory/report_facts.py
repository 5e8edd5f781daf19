"""What the release report shows, read from the stage outputs of one recipe.

Only the certificate is required (a report without a verdict would mislead); every other input
(the filter report and rows, the evaluation, the training logs, the grid, the PNG plots) is
optional and its section says so when it is absent. Certificates written before gates had
intervals and a three-way verdict are read too: `verdict` then follows `certified`, and the
interval column is left out.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from factory.kinds import kind_of
from factory.recipe import Recipe
from factory.core.records import Record, read_json, read_records
from factory.core.layout import Layout
from factory.core.reports import Certificate

VERDICTS = ("certified", "not_certified", "inconclusive")
SUMMARY_PLOT = "recipes-j.png"
"""The plot (in the plots folder) of every recipe's J, rendered when some recipe is of a pair kind."""
SAMPLE_KEPT = 40
"""Kept rows shown in the row table (a seeded sample)."""
SAMPLE_PER_REASON = 20
"""Dropped rows shown per drop reason (a seeded sample)."""


@dataclass
class ReportFacts:
    """Everything one recipe's report page shows; None where the stage output is absent."""

    recipe: Recipe
    certificate: dict[str, Any]
    evaluation: dict[str, Any] | None = None
    corpus: dict[str, Any] | None = None
    rows: list[Record] | None = None
    training: dict[str, Any] | None = None
    losses: dict[str, list[float]] = field(default_factory=dict)
    grid: dict[str, Any] | None = None
    images: dict[str, Path] = field(default_factory=dict)


def _optional_json(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def plot_files(name: str, study: str, root: Path, *, grid: bool) -> dict[str, Path]:
    """The PNGs that the `plots` stage renders for a recipe whose kind's study is `study` ("mixing" or "lm"; and,
    with `grid`, the grid report's heat map).

    `factory.plots.render_all` draws the mixing study of pair kinds, base vs detoxified of LM
    kinds, and the diversity and training loss curves of every kind.
    """
    plots = Layout(root).plots
    files = {study: plots / f"{name}-{study}.png", "diversity": plots / f"{name}-diversity.png",
             "loss": plots / f"{name}-loss.png"}
    if grid:
        files["heatmap"] = Layout(root).grid(name) / "report" / "heatmap.png"
    return files


def load_facts(recipe: Recipe, root: Path) -> ReportFacts:
    """Read the stage outputs of `recipe` under `root`; the certificate must exist."""
    root = Path(root)
    certificate = Certificate.read(Layout(root).certificate(recipe.name)).raw
    rows_path = Layout(root).filtered_rows(recipe.name)
    trained = Layout(root).trained(recipe.name)
    training = _optional_json(trained / "summary.json")
    return ReportFacts(
        recipe, certificate,
        evaluation=_optional_json(Layout(root).eval_metrics(recipe.name)),
        corpus=_optional_json(Layout(root).filter_report(recipe.name)),
        rows=read_records(rows_path) if rows_path.is_file() else None,
        training=training,
        losses=loss_curves(trained, training or {}),
        grid=_optional_json(Layout(root).grid(recipe.name) / "report" / "grid.json"),
        images={key: path for key, path in plot_files(recipe.name, kind_of(recipe).STUDY, root, grid=True).items()
                if path.is_file()},
    )


def _curve(values: Any) -> list[float]:
    """A loss curve from a training log: a list of numbers, or of {step, loss} / [step, loss] entries."""
    if not isinstance(values, list):
        return []
    curve = []
    for value in values:
        if isinstance(value, dict):
            value = value.get("loss")
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            value = value[1]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            curve.append(float(value))
    return curve


def loss_curves(trained: Path, training: dict[str, Any]) -> dict[str, list[float]]:
    """Per trained model (a key of the training summary), its per-step losses when its log has them.

    Logs that hold only the first and final loss give no curve; the training table shows those.
    """
    curves = {}
    for label, summary in training.items():
        log = trained / label / "train_log.json"
        entry = read_json(log) if log.is_file() else summary
        curve = _curve((entry or {}).get("losses")) or _curve((summary or {}).get("losses"))
        if len(curve) >= 2:
            curves[label] = curve
    return curves


def verdict(certificate: dict[str, Any]) -> tuple[str, str]:
    """("certified" | "not_certified" | "inconclusive", why) of a certificate, old or new."""
    gates = certificate.get("gates", [])
    stated = certificate.get("verdict")
    decided = stated if stated in VERDICTS else ("certified" if certificate.get("certified") else "not_certified")
    reason = certificate.get("reason")
    if not reason:
        failed = [g.get("name", "?") for g in gates if not g.get("passed")]
        reason = f"failed gates: {', '.join(failed)}" if failed else f"all {len(gates)} gates passed"
    return decided, str(reason)


def gate_verdict(gate: dict[str, Any]) -> str:
    """"pass", "fail" or "inconclusive" of one gate (older certificates: from `passed`)."""
    stated = gate.get("verdict")
    if stated in ("pass", "fail", "inconclusive"):
        return stated
    return "pass" if gate.get("passed") else "fail"


def gate_counts(certificate: dict[str, Any]) -> dict[str, int]:
    """How many gates passed, failed and were inconclusive."""
    counts = Counter(gate_verdict(g) for g in certificate.get("gates", []))
    return {"passed": counts["pass"], "failed": counts["fail"], "inconclusive": counts["inconclusive"]}


def sample_rows(rows: list[Record], seed: int, *, kept: int = SAMPLE_KEPT,
                per_reason: int = SAMPLE_PER_REASON) -> list[Record]:
    """A seeded sample: up to `kept` kept rows, then up to `per_reason` dropped rows of every drop reason."""
    by_reason: dict[str, list[Record]] = defaultdict(list)
    for row in rows:
        by_reason[row.drop_reason or ""].append(row)
    rng = random.Random(seed)
    chosen = []
    for reason in sorted(by_reason):
        group = by_reason[reason]
        size = kept if reason == "" else per_reason
        picked = sorted(rng.sample(range(len(group)), min(size, len(group))))
        chosen += [group[i] for i in picked]
    return chosen


def language_counts(rows: list[Record]) -> dict[str, dict[str, Any]]:
    """Per language: rows, kept, dropped and the dropped rows per reason (a Counter, first-seen order)."""
    frame = pl.DataFrame({"lang": [r.lang for r in rows], "reason": [r.drop_reason for r in rows]},
                         schema={"lang": pl.String, "reason": pl.String})
    totals = frame.group_by("lang").agg(rows=pl.len(), dropped=pl.col("reason").is_not_null().sum())
    table = {lang: {"rows": n, "kept": n - dropped, "dropped": dropped, "reasons": Counter()}
             for lang, n, dropped in totals.iter_rows()}
    for lang, reason, n in frame.drop_nulls("reason").group_by("lang", "reason", maintain_order=True).len().iter_rows():
        table[lang]["reasons"][reason] = n
    return dict(sorted(table.items()))


def certificate_digest(certificate_path: Path) -> str:
    """sha256 of the certificate file: a report page names the certificate it shows."""
    return hashlib.sha256(Path(certificate_path).read_bytes()).hexdigest()


def report_is_current(page: Path, certificate_path: Path) -> bool:
    """True when `page` exists and was made from exactly this certificate (a stale page is not published)."""
    if not Path(page).is_file() or not Path(certificate_path).is_file():
        return False
    head = Path(page).read_text(encoding="utf-8")[:4096]
    return f'<meta name="factory-certificate" content="{certificate_digest(certificate_path)}">' in head
