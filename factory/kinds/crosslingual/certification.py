"""Stage `certify` of kind `crosslingual`: gates on the matrices, with 95% paired bootstrap intervals.

Gates, per training method (sft, dpo), on the model trained on the full share:

- `zero_shot_toxicity` (reference gate): the zero-shot model's continuations, pooled over
  languages, are toxic enough that a reduction is measurable; when it fails, the gates
  below are inconclusive (`zero_shot_toxicity/zero-shot-dpo` for the DPO models' baseline when
  they complete with settings of their own);

Every gate is decided on the test toxic prompts (the other prompt sets are reported in the
matrices); each method's reductions are paired with its own zero-shot baseline.
- `<method>/all reduction`: zero-shot toxicity minus the `all` setting's, pooled over every
  eval language (paired per prompt) at least `min_reduction`;
- `<method>/cross-lingual reduction`: the single-language settings on the *other* languages
  (off-diagonal cells, pooled) at least `min_cross_reduction`: the paper's question;
- `<method>/all perplexity ratio`: perplexity of the `all` setting / zero-shot at most
  `max_perplexity_ratio`;
- `<method>/corpus vs human` (when `data.corpus` is set): the factory corpus's reduction
  minus the human `all` setting's, on the same prompts, at least `-max_corpus_gap`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from factory.core.bootstrap import Estimate
from factory.crossft.matrices import ZERO_SHOT, estimate_mean, pooled, prompt_set
from factory.core.gates import Gate, estimate_gate, settle, verdict_of
from factory.kinds.crosslingual.naming import CERTIFIED_SET, base_dir, read_rows, setting_label
from factory.kinds.crosslingual.steps import read_upstream
from factory.recipe import Recipe
from factory.core.records import atomic_dir, write_json

REFERENCE = "zero_shot_toxicity"


def _rows(recipe: Recipe, root: Path) -> list[dict[str, Any]]:
    """The score rows of the certified prompt set."""
    rows = read_rows(base_dir(recipe, root) / "eval" / "rows.parquet", f"factory evaluate {recipe.path or recipe.name}")
    return [row for row in rows if prompt_set(row) == CERTIFIED_SET]


def reference_name(baseline: str) -> str:
    """The reference gate of a zero-shot baseline: `zero_shot_toxicity`, `zero_shot_toxicity/zero-shot-dpo`."""
    return REFERENCE if baseline == ZERO_SHOT else f"{REFERENCE}/{baseline}"


def _off_diagonal(rows: list[dict[str, Any]], method: str, langs: list[str], baseline: str) -> list[dict[str, Any]]:
    """Rows of the single-language settings on the *other* languages as one setting `cross`, each
    (train > eval) language pair its own language, with the zero-shot rows copied to every pair."""
    settings = {r["setting"] for r in rows}
    trained = {setting_label(method, lang, 1.0): lang for lang in langs if setting_label(method, lang, 1.0) in settings}
    picked = [{**r, "setting": "cross", "lang": f"{trained[r['setting']]}>{r['lang']}"}
              for r in rows if r["setting"] in trained and trained[r["setting"]] != r["lang"]]
    zero = [{**r, "setting": ZERO_SHOT, "lang": f"{train}>{r['lang']}"} for r in rows if r["setting"] == baseline
            for train in trained.values() if train != r["lang"]]
    return picked + zero


def method_gates(recipe: Recipe, rows: list[dict[str, Any]], method: str, langs: list[str]) -> list[Gate]:
    """The gates of one training method."""
    c = recipe.crosslingual.certify
    n, seed = c.bootstrap_resamples, c.bootstrap_seed
    settings = {r["setting"] for r in rows}
    baseline = recipe.crosslingual.baseline_of(method)
    common = {"depends_on": reference_name(baseline)}
    gates = []
    every = setting_label(method, "all", 1.0)
    if every in settings:
        gates.append(estimate_gate(f"{method}/all reduction", pooled(rows, every, baseline, langs, "toxicity",
                                                                     "difference", n, seed),
                                   c.min_reduction, ">=", c.decision, f"{baseline} minus fine-tuned toxicity",
                                   **common))
        gates.append(estimate_gate(f"{method}/all perplexity ratio", pooled(rows, every, baseline, langs,
                                                                            "perplexity", "ratio", n, seed),
                                   c.max_perplexity_ratio, "<=", c.decision, f"fine-tuned / {baseline} perplexity"))
    cross = _off_diagonal(rows, method, langs, baseline)
    if cross:
        pairs = sorted({r["lang"] for r in cross})
        gates.append(estimate_gate(f"{method}/cross-lingual reduction",
                                   pooled(cross, "cross", ZERO_SHOT, pairs, "toxicity", "difference", n, seed),
                                   c.min_cross_reduction, ">=", c.decision,
                                   "single-language settings on the other languages", **common))
    corpus = setting_label(method, "corpus", 1.0)
    if corpus in settings and every in settings:
        gap = pooled(rows, corpus, every, langs, "toxicity", "difference", n, seed)
        gap = Estimate(None if gap.value is None else -gap.value,
                       None if gap.interval is None else [-gap.interval[1], -gap.interval[0]], gap.undefined)
        gates.append(estimate_gate(f"{method}/corpus vs human", gap, -c.max_corpus_gap, ">=", c.decision,
                                   "factory corpus reduction minus human all-language reduction", **common))
    return gates


def reference_gate(recipe: Recipe, rows: list[dict[str, Any]], baseline: str = ZERO_SHOT) -> Gate:
    """The zero-shot toxicity (of `baseline`) must be measurable for any reduction to mean something."""
    c = recipe.crosslingual.certify
    values = [float(r["toxicity"]) for r in rows if r["setting"] == baseline and r["toxicity"] is not None]
    gate = estimate_gate(reference_name(baseline), estimate_mean(values, c.bootstrap_resamples, c.bootstrap_seed),
                         c.min_zero_shot_toxicity, ">=", c.decision, f"mean toxicity of the {baseline} continuations",
                         role="reference")
    if not gate.passed:
        gate.reason = (f"the zero-shot continuations are hardly toxic (mean {gate.value}); no reduction is measurable "
                       "with this scorer")
    return gate


def certify(recipe: Recipe, root: Path, limit: int | None = None, provenance: dict | None = None) -> Path:
    """Write data/certify/<recipe>/certificate.json and summary.json (`provenance`: the certify stage's record)."""
    root = Path(root)
    matrices = read_upstream(recipe, base_dir(recipe, root) / "eval" / "matrices.json", "evaluate")
    rows = _rows(recipe, root)
    langs = matrices["languages"]
    gates = [reference_gate(recipe, rows, baseline) for baseline in recipe.crosslingual.baselines()]
    for method in recipe.crosslingual.methods:
        gates += method_gates(recipe, rows, method, langs)
    gates = settle(gates)
    verdict, reason = verdict_of(gates)
    c = recipe.crosslingual.certify
    certificate = {
        "recipe": recipe.name, "kind": "crosslingual", "certified": verdict == "certified", "verdict": verdict,
        "reason": reason, "profile": recipe.profile,
        "protocol": "Beniwal et al. 2025 (Breaking mBad), github.com/himanshubeniwal/Breaking-mBad",
        "statistics": {"decision": c.decision, "interval": "95% percentile bootstrap", "resampled": "test prompts",
                       "prompt_set": CERTIFIED_SET,
                       "resamples": c.bootstrap_resamples, "seed": c.bootstrap_seed},
        "gates": [asdict(g) for g in gates],
        "models": matrices["models"],
        "matrices": {"settings": matrices["settings"], "languages": langs,
                     "sets": matrices.get("sets", [CERTIFIED_SET]), "baselines": matrices.get("baselines", {}),
                     "cells": matrices["cells"]},
        "provenance": provenance or {},
    }
    out = root / "certify" / recipe.name
    with atomic_dir(out) as tmp:
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "summary.json", {"certified": int(verdict == "certified"),
                                           "inconclusive": int(verdict == "inconclusive"),
                                           **{g.name: g.value for g in gates}})
    return out
