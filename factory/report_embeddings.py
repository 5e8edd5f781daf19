"""The embedding-analysis section of a `crosslingual` recipe's report page.

Reads data/crosslingual/<recipe>/embeddings/summary.json and each setting's projection.png
(`factory.kinds.crosslingual.embedding_step`): the silhouette score by language per model and split
(higher: languages sit in separate clusters), per language on train and test together, and the 2-D
projection of each model's vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.recipe import Recipe
from factory.report_html import figure, missing, number, section, table, text

SPLITS = ("train", "test", "combined")


def load_embeddings(recipe: Recipe, root: Path) -> dict[str, Any] | None:
    """The embedding summary and the projection images (None when the analysis is off or has not run)."""
    from factory.core.records import read_json
    from factory.kinds.crosslingual.naming import base_dir

    folder = base_dir(recipe, root) / "embeddings"
    if not recipe.crosslingual.embeddings.enabled or not (folder / "summary.json").is_file():
        return None
    summary = read_json(folder / "summary.json")
    summary["images"] = {s: folder / s / "projection.png" for s in summary.get("settings", [])}
    return summary


def embeddings_section(recipe: Recipe, summary: dict[str, Any] | None) -> str:
    """Silhouette tables (overall per split, per language on train + test) and the projections."""
    if not recipe.crosslingual.embeddings.enabled:
        return ""
    if summary is None:
        return section("embeddings", "Embeddings", missing(
            f"No embedding analysis (data/crosslingual/{recipe.name}/embeddings/summary.json): run "
            f"`factory crosslingual embed {recipe.name}`."))
    results = summary.get("results", {})
    langs = sorted({lang for r in results.values() for lang in r.get("per_language", {}).get("combined", {})})
    overall = [[s, r.get("pooling"), *[number(r.get("overall", {}).get(split)) for split in SPLITS]]
               for s, r in results.items()]
    per_lang = [[s, *[number(r.get("per_language", {}).get("combined", {}).get(lang)) for lang in langs]]
                for s, r in results.items()]
    body = ("<p>Silhouette score of each model's sentence vectors with the language as the cluster label "
            "(Breaking mBad, embeddings/2-aya-8b.py): near 1, languages form separate clusters; near 0, they "
            "overlap. Undefined scores (a language with one text) are blank.</p>"
            + table(["model", "pooling", *SPLITS], overall) + "<h3>Per language (train and test)</h3>"
            + table(["model", *langs], per_lang))
    for setting, image in summary.get("images", {}).items():
        body += figure(image, f"{text(setting)}: 2-D projection (PCA) of the vectors",
                       f"No projection of {setting}.")
    return section("embeddings", "Embeddings", body)
