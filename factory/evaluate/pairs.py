"""Evaluation of pair kinds: score the reference detoxifiers trained on every mix (`factory.stages.evaluate`).

Writes data/eval/<recipe>/metrics.json (one entry per mix, plus the human-data
baseline and the identity baseline that copies the input, the J definition, whether
scores are soft or argmax, and the exact scoring models), mixing.csv (the plot data:
ratio against STA, SIM, FL, J, ChrF), rows.parquet (per-row scores: one row per system
and test input) and corpus.parquet (STA, SIM and FL of the kept synthetic pairs and the
human train pairs, for the certificate's quality floors: `factory.evaluate.corpus`).
"""

from __future__ import annotations

import csv
from pathlib import Path

from factory.core.errors import check_limit
from factory.recipe import Recipe
from factory import metrics
from factory.core.records import atomic_dir, read_json, read_records, write_json, write_records
from factory.core.layout import Layout

PLOT_FIELDS = ("ratio", "STA", "SIM", "FL", "J", "ChrF")


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None,
        corpus_side: str | None = None) -> Path:
    """Evaluate every trained mix on the human test split (and score the corpus on `corpus_side`)."""
    check_limit(limit, "evaluate")
    from factory.evaluate.corpus import corpus_rows
    from factory.evaluate.paradetox import Scorers, detoxify, evaluate_outputs, test_inputs

    test = read_records(Layout(root).human_split(recipe.name, "test"))
    inputs, references = test_inputs(test, limit or recipe.evaluate.max_rows)
    trained = Layout(root).trained(recipe.name)
    training = read_json(trained / "summary.json")
    scorers = Scorers(recipe, root)
    results, all_rows = {}, []
    summary, rows = evaluate_outputs(scorers, inputs, inputs, references, recipe, "identity")
    results["identity"] = summary
    all_rows += rows
    for stem in sorted(training):
        outputs = detoxify(trained / stem, inputs, recipe)
        summary, rows = evaluate_outputs(scorers, inputs, outputs, references, recipe, stem)
        results[stem] = {**summary, "ratio": float(stem.removeprefix("ratio-")), "train_rows": training[stem]["rows"]}
        all_rows += rows
    corpus = corpus_rows(recipe, Path(root), scorers, corpus_side)
    out = Layout(root).evaluated(recipe.name)
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", {"definition": metrics.J_DEFINITION, "scores": recipe.evaluate.scores,
                                            "models": scoring_models(recipe), "test_inputs": len(inputs),
                                            "systems": results})
        write_records(tmp / "rows.parquet", all_rows)
        write_records(tmp / "corpus.parquet", corpus)
        _write_plot_csv(tmp / "mixing.csv", results)
    return out


def scoring_models(recipe: Recipe) -> dict[str, dict]:
    """The exact models behind STA, SIM and FL and the detoxifiers' starting point."""
    roles = {"STA": recipe.models.toxicity, "SIM": recipe.evaluate.similarity or recipe.models.similarity,
             "FL": recipe.models.fluency,
             "detoxifier": recipe.models.detoxifier}
    return {name: {"ref": spec.ref, "revision": spec.revision, "label": spec.label} for name, spec in roles.items()}


def _write_plot_csv(path: Path, results: dict) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLOT_FIELDS)
        writer.writeheader()
        for name, summary in results.items():
            if name.startswith("ratio-"):
                writer.writerow({k: round(summary[k], 6) for k in PLOT_FIELDS})
