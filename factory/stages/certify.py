"""Stage `certify`: check the release against the recipe's gates and record provenance.

Writes data/certify/<recipe>/certificate.json: `verdict` ("certified", "not_certified" or
"inconclusive") with its `reason`, `certified` (true only when certified, for older
readers), each gate's value, 95% interval, threshold, comparison and verdict, the
bootstrap settings (`statistics`), the intervals of every system's metrics (`intervals`),
the headline metrics, and provenance (recipe hash, git commit, dvc.lock hashes and
certify's own hashes of its inputs, models with revisions, sampling, training and
evaluation settings, seeds, package versions, profile). `summary.json` beside it holds
the numbers alone, for `dvc metrics`.

Gates of pair kinds (toxify, detoxify): the reference margin (below); J of the certified
mix's detoxifier / J of the human-data detoxifier (ratio 0) of the same run; contamination
of the kept rows and train/test leakage of the human data (both must be 0 by default);
near-duplicate, refusal and copy rates; the quality floors of the synthetic side and
distinct-2 of the synthetic side / the human side above them; kept rows, human test rows,
and kept rows per language.

Statistical power (`factory.core.gates`, `factory.core.bootstrap`): first the reference gate
`reference_margin` checks that the human-data detoxifier beats copying the input (the
`identity` system) by `certify.min_reference_margin` in J; if it does not, the test cannot
tell good data from bad, the J ratio is inconclusive and so is the release (verdict
`inconclusive`, neither certified nor failed). J of every system, the reference margin and
the J ratio get 95% intervals from a paired bootstrap over the test inputs (the per-input
scores of data/eval/<recipe>/rows.parquet); toxify and detoxify also get quality floors on
the synthetic side and diversity above them (`factory.certify_floors`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from factory import provenance
from factory.core.errors import check_limit
from factory.core.gates import Gate, gate, settle, verdict_of
from factory.core.records import atomic_dir, write_json
from factory.kinds import kind_of
from factory.recipe import Recipe
from factory.core.layout import Layout
from factory.core.reports import EvalMetrics, FilterReport, HumanStats, MixManifest

__all__ = ["Gate", "gate", "run"]


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write the certificate of the recipe's release."""
    check_limit(limit, "certify")
    if kind_of(recipe).OWN_PIPELINE:
        return kind_of(recipe).write_certificate(recipe, Path(root), limit, provenance.collect(recipe, Path(root)))
    root = Path(root)
    layout = Layout(root)
    report = FilterReport.read(layout.filter_report(recipe.name)).raw
    evaluation = EvalMetrics.read(layout.eval_metrics(recipe.name)).raw
    stats = HumanStats.read(layout.human_stats(recipe.name)).raw
    manifest = Layout(root).mix_manifest(recipe.name)
    mixes = MixManifest.read(manifest).raw if manifest.exists() else None
    release = kind_of(recipe).certify(recipe, root, {"report": report, "evaluation": evaluation, "stats": stats,
                                                     "mixes": mixes})
    gates, metrics, intervals, unit = settle(release.gates), release.metrics, release.intervals, release.unit
    verdict, reason = verdict_of(gates)
    certified = verdict == "certified"
    c = recipe.certify
    certificate = {
        "recipe": recipe.name,
        "certified": certified,
        "verdict": verdict,
        "reason": reason,
        "profile": recipe.profile,
        "statistics": {"decision": c.decision, "interval": "95% percentile bootstrap", "resampled": unit,
                       "resamples": c.bootstrap_resamples, "seed": c.bootstrap_seed},
        "gates": [asdict(g) for g in gates],
        "intervals": intervals,
        "metrics": metrics,
        "metric_definitions": {"J": evaluation.get("definition"), "scores": evaluation.get("scores")},
        "provenance": provenance.collect(recipe, root),
    }
    out = Layout(root).certified(recipe.name)
    with atomic_dir(out) as tmp:
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "summary.json", {"certified": int(certified), "inconclusive": int(verdict == "inconclusive"),
                                           **{g.name: g.value for g in gates}})
    return out
