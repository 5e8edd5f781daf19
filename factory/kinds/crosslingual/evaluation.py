"""Stage `evaluate` of kind `crosslingual`: continuations, scores, matrices, heat maps.

Every model (the zero-shot base and each trained setting) completes "Complete the sentence:
{toxic} .." for the toxic test sentences of every language; each continuation is scored by
the toxicity role (per language, so the Perspective API gets the language hint as the
reference sends it) and by the perplexity model. Empty continuations get no toxicity and
are counted per cell (`missing_toxicity`), as the reference skips empty texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.crossft.matrices import METRICS, ZERO_SHOT, build_cells
from factory.kinds.crosslingual.steps import base_dir, model_target, read_upstream, toxicity_spec
from factory.recipe import Recipe
from factory.core.records import atomic_dir, write_json


def _prompts(split: dict[str, Any], limit: int | None) -> dict[str, list[str]]:
    from factory.crossft.formats import continuation_prompt

    return {lang: [continuation_prompt(toxic) for toxic, _ in entry["test"][:limit]]
            for lang, entry in split["languages"].items()}


def _continue(recipe: Recipe, target: str, adapter: Path | None, prompts: dict[str, list[str]]) -> dict[str, list[str]]:
    from factory.crossft.generation import continuations
    from factory.crossft.training import load_adapted

    cl, c = recipe.crosslingual, recipe.crosslingual.continuation
    model, tokenizer = load_adapted(target, cl.model.revision, adapter, cl.architecture, cl.quantization,
                                    cl.model.dtype)
    return {lang: continuations(model, tokenizer, items, max_new_tokens=c.max_new_tokens, temperature=c.temperature,
                                top_p=c.top_p, batch_size=c.batch_size, seed=c.seed,
                                seq2seq=cl.architecture == "seq2seq")
            for lang, items in prompts.items()}


def _toxicity(recipe: Recipe, root: Path, lang: str, texts: list[str]) -> list[float | None]:
    from factory.models.loading import load_toxicity

    spec = toxicity_spec(recipe)
    if spec.ref.startswith("perspective:"):
        spec = spec.model_copy(update={"perspective": spec.perspective.model_copy(update={"languages": [lang]})})
    chosen = [i for i, text in enumerate(texts) if text.strip()]
    scores = load_toxicity(spec, root)([texts[i] for i in chosen]) if chosen else []
    values: list[float | None] = [None] * len(texts)
    for i, score in zip(chosen, scores):
        values[i] = float(score)
    return values


def score_rows(recipe: Recipe, root: Path, outputs: dict[str, dict[str, list[str]]]) -> list[dict[str, Any]]:
    """One row per (setting, lang, prompt index): continuation, toxicity, perplexity."""
    from factory.crossft.generation import perplexities
    from factory.models.loading import load_causal_lm

    ppl_model, ppl_tokenizer = load_causal_lm(recipe.crosslingual.perplexity_model, root)
    rows = []
    for setting, by_lang in outputs.items():
        for lang, texts in by_lang.items():
            toxicity = _toxicity(recipe, root, lang, texts)
            perplexity = perplexities(ppl_model, ppl_tokenizer, texts)
            rows += [{"setting": setting, "lang": lang, "index": i, "continuation": text, "toxicity": tox,
                      "perplexity": ppl} for i, (text, tox, ppl) in enumerate(zip(texts, toxicity, perplexity))]
    return rows


def scorer_names(recipe: Recipe) -> dict[str, Any]:
    """The exact models behind the numbers (the certificate and card name them)."""
    cl = recipe.crosslingual
    tox = toxicity_spec(recipe)
    return {"toxicity": {"ref": tox.ref, "revision": tox.revision, "fallback_used": tox is not cl.toxicity},
            "perplexity": {"ref": cl.perplexity_model.ref, "revision": cl.perplexity_model.revision},
            "model": {"ref": cl.model.ref, "revision": cl.model.revision}}


def _recipe_order(recipe: Recipe, trained: dict[str, Any]) -> list[str]:
    """The trained settings in the recipe's order (`planned_runs`): the JSON files hold them sorted, and the
    matrices' rows and columns follow the recipe (languages as listed, as the reference's LANGUAGES)."""
    from factory.kinds.crosslingual.steps import planned_runs, setting_label

    planned = [setting_label(*run) for run in planned_runs(recipe)]
    return [label for label in planned if label in trained] + sorted(set(trained) - set(planned))


def evaluate_all(recipe: Recipe, root: Path, limit: int | None) -> Path:
    """Write eval/: rows.parquet, matrices.json and one heat map per metric (the DVC metrics are the report's
    numbers-only summary, data/metrics/<recipe>.json: `factory.report_crosslingual`)."""
    import pandas as pd

    from factory.crossft.heatmaps import heatmap_png

    from factory.crossft.training import require_quantization

    require_quantization(recipe.crosslingual.quantization, f"{recipe.path or recipe.name}: crosslingual.quantization")
    folder = base_dir(recipe, root)
    split = read_upstream(recipe, folder / "split" / "split.json", "generate")
    trained = read_upstream(recipe, folder / "trained" / "summary.json", "train")
    prompts = _prompts(split, limit)
    prompts = {lang: prompts[lang] for lang in recipe.crosslingual.data.languages if lang in prompts}
    target = model_target(recipe, root)
    outputs = {ZERO_SHOT: _continue(recipe, target, None, prompts)}
    for label in _recipe_order(recipe, trained):
        outputs[label] = _continue(recipe, target, folder / "trained" / label, prompts)
    rows = score_rows(recipe, root, outputs)
    c = recipe.crosslingual.certify
    cells = build_cells(rows, c.bootstrap_resamples, c.bootstrap_seed)
    settings, langs = list(outputs), list(prompts)
    out = folder / "eval"
    with atomic_dir(out) as tmp:
        pd.DataFrame(rows).to_parquet(tmp / "rows.parquet", index=False)
        write_json(tmp / "matrices.json", {"settings": settings, "languages": langs, "models": scorer_names(recipe),
                                           "prompts_per_language": {k: len(v) for k, v in prompts.items()},
                                           "cells": [cell.as_dict() for cell in cells]})
        for metric in METRICS:
            (tmp / f"heatmap-{metric}.png").write_bytes(heatmap_png(cells, metric, settings, langs, recipe.name))
    return out
