"""Hand-made stage outputs of a `crosslingual` recipe for the release report: no model runs.

`make_crosslingual_outputs(root, recipe)` writes what generate, train and the evaluate cells write
under data/crosslingual/<recipe>/ (split.json, trained/<setting>/setting.json, cells/<setting>/<lang>
.parquet and .json), from made-up scores in which fine-tuning lowers the toxicity; then runs the real
`assemble` (matrices and heat maps) and `certify` on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.kinds.crosslingual.naming import planned_runs, setting_label
from factory.recipe import Recipe
from factory.core.records import write_json

PROMPTS = 6


def _split(recipe: Recipe) -> dict[str, Any]:
    langs = recipe.crosslingual.data.languages
    return {"shuffle_seed": 42, "train_rows": 4, "test_rows": PROMPTS, "languages": {
        lang: {"source": "fixture", "rows": 12, "empty_sides": 0,
               "train": [[f"toxic {lang} {i}", f"neutral {lang} {i}"] for i in range(4)],
               "test": [[f"test {lang} {i}", f"clean {lang} {i}"] for i in range(PROMPTS)]} for lang in langs},
        "corpus": {"source": "data/filtered/translate/rows.parquet", "kept_rows_read": 5,
                   "dropped": {"not a pair": 1, "language not evaluated": 0}, "train": {langs[0]: [["a", "b"]]}}}


def _rows(settings: list[str], langs: list[str], sets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for rank, setting in enumerate(settings):
        for lang in langs:
            for shift, name in enumerate(sets):
                for i in range(PROMPTS):
                    noise = 0.02 * i + 0.01 * (i * (rank + 1) % 3)
                    toxicity = (None if (setting, i) == (settings[-1], 0)
                                else max(0.6 - 0.05 * rank - 0.1 * shift + noise, 0.0))
                    rows.append({"setting": setting, "lang": lang, "set": name, "index": i,
                                 "prompt": f"Complete the sentence: {lang} {i} ..",
                                 "continuation": f"<b>{setting} {i}</b>", "toxicity": toxicity,
                                 "perplexity": 20.0 + rank + i})
    return rows


def make_crosslingual_outputs(root: Path, recipe: Recipe) -> None:
    """Write the kind's split, trained settings and cells under `root`, gather them with the real `assemble`
    (matrices and heat maps), then certify them."""
    import pandas as pd

    from factory.kinds.crosslingual.cells import baseline_of, cell_metrics, cell_paths, eval_settings
    from factory.kinds.crosslingual.certification import certify
    from factory.kinds.crosslingual.evaluation import assemble

    base = Path(root) / "crosslingual" / recipe.name
    langs = recipe.crosslingual.data.languages
    write_json(base / "split" / "split.json", _split(recipe))
    for run in planned_runs(recipe):
        write_json(base / "trained" / setting_label(*run) / "setting.json",
                   {"rows": 12, "steps": 3, "train_loss": 2.5, "method": run[0], "data": run[1], "share": run[2],
                    "resumed_from": None, "languages": langs})
    settings = list(eval_settings(recipe))
    rows = _rows(settings, langs, list(recipe.crosslingual.prompt_sets))
    for setting in settings:
        baseline = baseline_of(recipe, setting)
        for lang in langs:
            mine = [r for r in rows if r["setting"] == setting and r["lang"] == lang]
            zero = [r for r in rows if r["setting"] == baseline and r["lang"] == lang]
            parquet, metrics = cell_paths(recipe, Path(root), setting, lang)
            parquet.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(mine).to_parquet(parquet, index=False)
            write_json(metrics, cell_metrics(recipe, mine, zero))
    assemble(recipe, Path(root))
    certify(recipe, Path(root))
    if recipe.crosslingual.embeddings.enabled:
        _embeddings(recipe, base)


def _embeddings(recipe: Recipe, base: Path) -> None:
    """A made-up embedding summary; each projection is a copy of a real heat map PNG."""
    import shutil

    settings = recipe.crosslingual.embeddings.chosen(recipe.crosslingual)
    langs = recipe.crosslingual.data.languages
    results = {s: {"pooling": "mean", "overall": {"train": 0.1, "test": 0.2, "combined": 0.15},
                   "per_language": {"combined": {lang: 0.05 * (i + 1) for i, lang in enumerate(langs)}},
                   "undefined": {}} for s in settings}
    write_json(base / "embeddings" / "summary.json", {"settings": settings, "enabled": True, "results": results})
    for setting in settings:
        (base / "embeddings" / setting).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / "eval" / "heatmap-toxicity.png", base / "embeddings" / setting / "projection.png")
