"""One cell of kind `crosslingual`: one model's continuations in one language, scored.

A cell is (setting, eval language): the zero-shot base (`zero-shot`, `zero-shot-dpo` when DPO models
complete with settings of their own, `zero-shot-reference` decoded as the reference's zero-shot
scripts) or a trained setting (`sft-de-100`), completing the
sentences of every prompt set of the language (`prompt_sets`: test toxic, train toxic, test neutral,
as the reference's `generate_completions`). Each continuation is scored by the toxicity role (per
language, so the Perspective API gets the language hint) and by the perplexity model; an empty text
gets no toxicity and is counted in the cell (`missing_toxicity`), as the reference skips empty texts.

Writes cells/<setting>/<lang>.parquet (the rows) and <lang>.json: the cell's test-toxic numbers
with 95% intervals (toxicity, reduction against the cell of its zero-shot baseline, perplexity), which
DVC tracks as metrics, one row per cell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from factory.core.errors import FactoryError
from factory.core.records import write_json
from factory.crossft.matrices import ZERO_SHOT, build_cells
from factory.kinds.crosslingual.naming import (CERTIFIED_SET, base_dir, planned_runs, read_rows, setting_label,
                                               trained_dir)
from factory.kinds.crosslingual.steps import model_target, read_upstream
from factory.recipe import Recipe

def eval_settings(recipe: Recipe) -> dict[str, str]:
    """Every evaluated setting -> the method whose continuation settings it uses: the zero-shot baselines first,
    then the trained settings in the recipe's order."""
    out = dict(recipe.crosslingual.zero_shot_rows())
    out.update({setting_label(*run): run[0] for run in planned_runs(recipe)})
    return out


def toxicity_spec(recipe: Recipe) -> Any:
    """The toxicity scorer used: `toxicity`, or `toxicity_fallback` when the Perspective key is unset."""
    cl = recipe.crosslingual
    spec = cl.toxicity
    if spec.ref.startswith("perspective:") and not os.environ.get(spec.perspective.api_key_env):
        if cl.toxicity_fallback is None:
            raise FactoryError(f"{recipe.path or recipe.name}: crosslingual.toxicity: {spec.ref} needs "
                               f"${spec.perspective.api_key_env} (unset) and toxicity_fallback is null")
        return cl.toxicity_fallback
    return spec


def baseline_of(recipe: Recipe, setting: str) -> str | None:
    """The zero-shot baseline a trained setting is compared with (None for a baseline itself)."""
    method = eval_settings(recipe).get(setting)
    if method is None or setting in recipe.crosslingual.zero_shot_rows():
        return None
    return recipe.crosslingual.baseline_of(method)


def cell_paths(recipe: Recipe, root: Path, setting: str, lang: str) -> tuple[Path, Path]:
    """(rows parquet, metrics JSON) of one cell."""
    folder = base_dir(recipe, root) / "cells" / setting
    return folder / f"{lang}.parquet", folder / f"{lang}.json"


def prompt_sentences(split: dict[str, Any], lang: str, sets: list[str], limit: int | None) -> dict[str, list[str]]:
    """set -> the sentences of `lang` to complete: test_toxic, train_toxic (toxic sides), test_neutral."""
    entry = split["languages"][lang]
    picks = {"test_toxic": (entry["test"], 0), "train_toxic": (entry["train"], 0), "test_neutral": (entry["test"], 1)}
    return {name: [pair[picks[name][1]] for pair in picks[name][0][:limit]] for name in sets}


class CellModels:
    """The models the cells of one process share: the LM (reloaded when the adapter changes), the toxicity
    scorer (one per language for the Perspective API) and the perplexity model, each loaded once."""

    def __init__(self, recipe: Recipe, root: Path) -> None:
        self.recipe, self.root = recipe, Path(root)
        self._lm: tuple[Path | None, Any, Any] | None = None
        self._toxicity: dict[str, Callable[[list[str]], list[float]]] = {}
        self._perplexity: tuple[Any, Any] | None = None

    def lm(self, adapter: Path | None) -> tuple[Any, Any]:
        """The base model with `adapter` applied (None: zero-shot)."""
        from factory.crossft.training import load_adapted

        if self._lm is None or self._lm[0] != adapter:
            cl = self.recipe.crosslingual
            model, tokenizer = load_adapted(model_target(self.recipe, self.root), cl.model.revision, adapter,
                                            cl.architecture, cl.quantization, cl.model.dtype)
            self._lm = (adapter, model, tokenizer)
        return self._lm[1], self._lm[2]

    def toxicity(self, lang: str) -> Callable[[list[str]], list[float]]:
        """The toxicity scorer for texts in `lang`."""
        from factory.models.loading import load_toxicity

        spec = toxicity_spec(self.recipe)
        key = lang if spec.ref.startswith("perspective:") else ""
        if key not in self._toxicity:
            if key:
                hint = spec.perspective.model_copy(update={"languages": [lang]})
                spec = spec.model_copy(update={"perspective": hint})
            self._toxicity[key] = load_toxicity(spec, self.root)
        return self._toxicity[key]

    def perplexity(self) -> tuple[Any, Any]:
        """The perplexity model and its tokenizer."""
        from factory.models.loading import load_causal_lm

        if self._perplexity is None:
            self._perplexity = load_causal_lm(self.recipe.crosslingual.perplexity_model, self.root)
        return self._perplexity


def _scores(score: Callable[[list[str]], list[float]], texts: list[str]) -> list[float | None]:
    chosen = [i for i, text in enumerate(texts) if text.strip()]
    values: list[float | None] = [None] * len(texts)
    for i, value in zip(chosen, score([texts[i] for i in chosen]) if chosen else []):
        values[i] = float(value)
    return values


def cell_rows(recipe: Recipe, models: CellModels, setting: str, lang: str, split: dict[str, Any],
              limit: int | None) -> list[dict[str, Any]]:
    """Continue and score every prompt set of `lang` with the model of `setting`: one row per sentence."""
    from factory.crossft.formats import continuation_prompt
    from factory.crossft.generation import continuations, perplexities

    cl = recipe.crosslingual
    method = eval_settings(recipe)[setting]
    c = cl.continuation_of(method)
    adapter = None if setting in cl.zero_shot_rows() else trained_dir(recipe, models.root, setting)
    model, tokenizer = models.lm(adapter)
    ppl_model, ppl_tokenizer = models.perplexity()
    rows = []
    for name, sentences in prompt_sentences(split, lang, cl.prompt_sets, limit).items():
        prompts = [continuation_prompt(s, c.prompt) for s in sentences]
        texts = continuations(model, tokenizer, prompts, max_new_tokens=c.max_new_tokens, temperature=c.temperature,
                              top_p=c.top_p, batch_size=c.batch_size, seed=c.seed,
                              seq2seq=cl.architecture == "seq2seq", do_sample=c.do_sample, num_beams=c.num_beams)
        scored = texts if c.scored_text == "continuation" else [f"{p} {t}".strip() for p, t in zip(prompts, texts)]
        toxicity = _scores(models.toxicity(lang), scored)
        perplexity = perplexities(ppl_model, ppl_tokenizer, scored)
        rows += [{"setting": setting, "lang": lang, "set": name, "index": i, "prompt": prompt, "continuation": text,
                  "toxicity": tox, "perplexity": ppl}
                 for i, (prompt, text, tox, ppl) in enumerate(zip(prompts, texts, toxicity, perplexity))]
    return rows


def cell_metrics(recipe: Recipe, rows: list[dict[str, Any]], baseline_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The cell's test-toxic numbers for `dvc metrics`: prompts, and each metric's mean with its 95% interval."""
    c = recipe.crosslingual.certify
    mine = [r for r in rows if r["set"] == CERTIFIED_SET]
    base = [{**r, "setting": ZERO_SHOT} for r in baseline_rows if r["set"] == CERTIFIED_SET]
    setting = mine[0]["setting"] if mine else ""
    cells = build_cells(mine + base, c.bootstrap_resamples, c.bootstrap_seed,
                        {setting: ZERO_SHOT} if base else {})
    cell = next((x for x in cells if x.setting == setting), None)
    if cell is None:
        return {"prompts": 0}
    out: dict[str, Any] = {"prompts": cell.prompts}
    for metric in ("toxicity", "reduction", "perplexity"):
        estimate = getattr(cell, metric)
        if estimate is not None:
            low, high = estimate.interval or (None, None)
            out[metric] = {"mean": estimate.value, "low": low, "high": high}
    return out


def evaluate_cell(recipe: Recipe, root: Path, setting: str, lang: str, limit: int | None = None,
                  models: CellModels | None = None) -> Path:
    """Write cells/<setting>/<lang>.parquet and .json (a trained setting needs its baseline's cell first)."""
    import pandas as pd

    from factory.core.records import atomic_file

    where = recipe.path or recipe.name
    if setting not in eval_settings(recipe):
        raise FactoryError(f"{where}: setting {setting!r} is not evaluated by this recipe "
                           f"({', '.join(eval_settings(recipe))})")
    if lang not in recipe.crosslingual.data.languages:
        raise FactoryError(f"{where}: language {lang!r} is not in crosslingual.data.languages")
    split = read_upstream(recipe, base_dir(recipe, root) / "split" / "split.json", "generate")
    baseline = baseline_of(recipe, setting)
    baseline_rows = []
    if baseline is not None:
        baseline_rows = read_rows(cell_paths(recipe, root, baseline, lang)[0],
                                  f"factory crosslingual evaluate {where} --setting {baseline} --lang {lang}")
        if not trained_dir(recipe, root, setting).is_dir():
            raise FactoryError(f"{trained_dir(recipe, root, setting)}: missing; run "
                               f"`factory crosslingual train {where} --setting {setting}` first")
    rows = cell_rows(recipe, models or CellModels(recipe, root), setting, lang, split, limit)
    rows_path, metrics_path = cell_paths(recipe, root, setting, lang)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(rows_path) as tmp:
        pd.DataFrame(rows).to_parquet(tmp, index=False)
    write_json(metrics_path, cell_metrics(recipe, rows, baseline_rows))
    return rows_path
