"""Hand-made stage outputs for the release report: all six kinds, with plots, training logs, a grid.

`build_reports(tmp)` writes, under `tmp/data`, the outputs `tests/release_fixtures.py` makes for
every kind, plus what the report reads besides: training summaries (toxify's logs with per-step
losses, the others first/final loss only), the translate grid with its heat map, the PNG plots
of `factory plots`, rows whose text is HTML (toxify), and a certificate in the newer format with
bootstrap intervals and a three-way verdict (detoxify). Then it runs `factory.stages.report` on them.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from crosslingual_fixtures import make_crosslingual_outputs
from release_fixtures import KINDS, make_outputs

from factory.filter.diversity import corpus_report
from factory.plots import grid_heatmap_png, render_all
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, read_records, write_json, write_records
from factory.stages.report import run, write_index

REPO = Path(__file__).resolve().parent.parent
HOSTILE = ['<script>alert("toxic")</script>', '<img src=x onerror=alert(1)>',
           '"><b>bold</b></td></tr></table>', "you utter idiot & <style>body{display:none}</style>"]
"""Row texts that would run code, load something or break the page if they were not escaped."""


def add_hostile_rows(path: Path, recipe: Recipe) -> list[Record]:
    """Append rows whose texts are HTML (one kept, the others dropped) to the filtered rows."""
    rows = read_records(path)
    for index, payload in enumerate(HOSTILE):
        row = Record.make("pair", toxic=payload, neutral=f"{payload} (neutral {index})", source="synthetic:toxify",
                          recipe=recipe.name, split="train")
        row.attributes = {"synthetic_side": "toxic"}
        if index:
            row.drop("contamination" if index == 1 else "meaning_lost", ref='<a href="http://evil.example">x</a>')
        rows.append(row)
    write_records(path, rows)
    return rows


def write_training(root: Path, recipe: Recipe, *, curves: bool) -> None:
    """data/trained/<name>/summary.json (and train_log.json per mix, with per-step losses when `curves`)."""
    labels = ["causal-lm/ratio-1.00"] if recipe.kind in ("distill", "selfgen") else ["ratio-0.00", "ratio-1.00"]
    summary = {}
    for offset, label in enumerate(labels):
        losses = [3.0 - offset * 0.3 - step * 0.05 + (step % 3) * 0.02 for step in range(40)]
        summary[label] = {"rows": 6, "steps": 40, "resumed_from": 0, "first_loss": losses[0],
                          "final_loss": sum(losses[-10:]) / 10}
        log = {**summary[label], **({"losses": losses} if curves else {})}
        write_json(root / "trained" / recipe.name / label / "train_log.json", log)
    write_json(root / "trained" / recipe.name / "summary.json", summary)


def write_corpus_report(root: Path, recipe: Recipe) -> None:
    """data/filtered/<name>/report.json as the filter stage writes it (rates, outcomes, diversity of both sides)."""
    rows = read_records(root / "filtered" / recipe.name / "rows.parquet")
    kept = [r.content() for r in rows if r.kept]
    outcomes = Counter(r.drop_reason or "kept" for r in rows)
    synthetic, human = corpus_report(kept), corpus_report([f"a human sentence number {i}" for i in range(12)])
    write_json(root / "filtered" / recipe.name / "report.json", {
        "rows": len(rows), "kept": len(kept), "outcomes": dict(outcomes),
        "near_dup_rate": (outcomes["near_duplicate"] + outcomes["exact_duplicate"]) / len(rows),
        "refusal_rate": outcomes["refusal"] / len(rows), "copy_rate": outcomes["copy"] / len(rows),
        "contamination_dropped": outcomes["contamination"], "contamination": 0, "train_test_leakage": 0,
        "leaking_human_ids": [], "synthetic": synthetic, "human": human,
        "distinct2_ratio": synthetic["distinct_2"] / human["distinct_2"]})


def write_grid(root: Path, recipe: Recipe) -> None:
    """data/grid/<name>/report/{grid.json,heatmap.png} for an en/de x en/de grid."""
    pairs = [(setting, lang) for setting in ("en", "de") for lang in ("en", "de")]
    cells = [{"setting": s, "lang": lang, "rows": 10, "J": 0.2 + 0.1 * i, "STA": 0.7, "SIM": 0.6, "ChrF": 0.4,
              "identity_J": 0.1} for i, (s, lang) in enumerate(pairs)]
    report = root / "grid" / recipe.name / "report"
    write_json(report / "grid.json", {"recipe": recipe.name, "definition": "J = mean of STA*SIM*ChrF",
                                      "settings": ["en", "de"], "languages": ["en", "de"], "cells": cells})
    (report / "heatmap.png").write_bytes(grid_heatmap_png(cells, f"{recipe.name}: multilingual J"))


def with_intervals(path: Path) -> dict[str, Any]:
    """Rewrite a certificate in the newer format: gates with intervals and verdicts, an inconclusive release."""
    certificate = json.loads(path.read_text())
    certificate["gates"] = [
        {"name": "reference_margin", "value": 0.01, "threshold": 0.05, "op": ">=", "passed": False,
         "interval": [-0.02, 0.04], "verdict": "fail", "role": "reference", "decision": "interval",
         "reason": "the human-data detoxifier does not beat copying the input", "note": "J human - J copy"},
        {"name": "j_ratio", "value": 0.88, "threshold": 0.7, "op": ">=", "passed": False, "interval": [0.61, 1.12],
         "verdict": "inconclusive", "depends_on": "reference_margin", "decision": "interval", "note": "J ratio"},
        *certificate["gates"]]
    certificate.update(verdict="inconclusive", certified=False, reason="the human-data detoxifier does not beat "
                       "copying the input", statistics={"decision": "interval", "interval": "95% percentile bootstrap",
                                                         "resampled": "test inputs", "resamples": 1000, "seed": 0},
                       intervals={"J": {"ratio-0.00": [0.5, 0.64], "ratio-1.00": [0.41, 0.58]}})
    path.write_text(json.dumps(certificate))
    return certificate


def build_reports(tmp: Path, *, plots: bool = True) -> tuple[Path, dict[str, Recipe]]:
    """Write every kind's stage outputs under `tmp/data` and its report; return (data root, recipes by name)."""
    root = tmp / "data"
    tmp.mkdir(parents=True, exist_ok=True)
    recipes = {}
    for kind in KINDS:
        path = tmp / f"{kind}.yaml"
        shutil.copyfile(REPO / "recipes" / "tiny" / f"{kind}.yaml", path)
        make_outputs(kind, root, path)
        recipes[kind] = recipe = load_recipe(path)
        write_training(root, recipe, curves=kind == "toxify")
    add_hostile_rows(root / "filtered" / "toxify" / "rows.parquet", recipes["toxify"])
    for recipe in recipes.values():
        write_corpus_report(root, recipe)
    with_intervals(root / "certify" / "detoxify" / "certificate.json")
    write_grid(root, recipes["translate"])
    if plots:
        render_all(list(recipes), root=root, out=root / "plots")
    path = shutil.copyfile(REPO / "recipes" / "tiny" / "crosslingual.yaml", tmp / "crosslingual.yaml")
    recipes["crosslingual"] = load_recipe(Path(path))
    make_crosslingual_outputs(root, recipes["crosslingual"])
    for recipe in recipes.values():
        run(recipe, root=root)
    write_index(list(recipes.values()), root)
    return root, recipes
