"""The embedding analysis of kind `crosslingual` (Breaking mBad `embeddings/2-aya-8b.py`, `2-mt5.py`).

Reads split/split.json (generate) and the adapters in trained/<setting>/ (train); writes, under
data/crosslingual/<recipe>/embeddings/:

- `<setting>/silhouette.json`: the selection (per language: rows, samples used, shrunk), the pooling,
  and the silhouette by language for train, test and combined (`factory.crossft.embeddings.analyse`);
- `<setting>/confusion.json`: mean cosine similarity between the `<lang>_<split>_<toxic|neutral>`
  categories;
- `<setting>/projection.png`: UMAP (the reference's, `projection: umap`) or PCA of the standardised
  vectors (`factory.crossft.embeddings`);
- `summary.json` (`embed_all`): per setting, the overall silhouette per split and per language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError
from factory.core.records import atomic_dir, write_json
from factory.crossft.matrices import ZERO_SHOT
from factory.kinds.crosslingual.naming import SETTING_FILE, base_dir, trained_dir
from factory.kinds.crosslingual.steps import model_target, read_upstream
from factory.recipe import Recipe


def embeddings_dir(recipe: Recipe, root: Path) -> Path:
    """data/crosslingual/<recipe>/embeddings/."""
    return base_dir(recipe, root) / "embeddings"


def shuffled_rows(recipe: Recipe, split: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each language's shuffled rows as split.json holds them (train then test), in the recipe's order."""
    languages = split["languages"]
    return {lang: [tuple(pair) for pair in languages[lang]["train"] + languages[lang]["test"]]
            for lang in recipe.crosslingual.data.languages if lang in languages}


def _adapter(recipe: Recipe, root: Path, setting: str) -> Path | None:
    if setting == ZERO_SHOT:
        return None
    folder = trained_dir(recipe, root)
    if not (folder / setting / SETTING_FILE).is_file():
        raise FactoryError(f"{folder / setting}: missing (embeddings.settings names {setting!r}); run "
                           f"`factory crosslingual train {recipe.path or recipe.name} --setting {setting}` first")
    return folder / setting


def _vectors(recipe: Recipe, root: Path, setting: str, texts: list[str]) -> Any:
    import numpy as np
    import torch

    from factory.crossft.embeddings import embed
    from factory.crossft.training import load_adapted
    from factory.models.loading import loading

    cl, e = recipe.crosslingual, recipe.crosslingual.embeddings
    adapter = _adapter(recipe, root, setting)
    target = model_target(recipe, root)
    np.random.seed(e.seed)
    torch.manual_seed(e.seed)
    with loading(cl.model, target):
        model, tokenizer = load_adapted(target, cl.model.revision, adapter, cl.architecture, cl.quantization,
                                        cl.model.dtype)
    return embed(model, tokenizer, texts, e.pooling, e.max_length, e.batch_size)


def _write_setting(recipe: Recipe, root: Path, setting: str, split: dict[str, Any], out: Path) -> dict[str, Any]:
    """Embed one model's selection and write its three files into `out`; return its silhouette."""
    from factory.crossft import embeddings as emb

    e = recipe.crosslingual.embeddings
    selection = emb.select_samples(shuffled_rows(recipe, split), e.train_samples, e.test_samples)
    vectors = _vectors(recipe, root, setting, selection.texts)
    held = {lang: entry["rows"] - len(entry["train"]) - len(entry["test"])
            for lang, entry in split["languages"].items()}
    silhouette = {"setting": setting, "pooling": e.pooling, "max_length": e.max_length, "batch_size": e.batch_size,
                  "model": {"ref": recipe.crosslingual.model.ref, "revision": recipe.crosslingual.model.revision},
                  "texts": len(selection.texts), "dimensions": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
                  "dropped": selection.dropped, "languages": selection.per_language,
                  "rows_outside_split": {lang: n for lang, n in held.items() if n > 0},
                  "splits": emb.analyse(vectors, selection)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "silhouette.json", silhouette)
    write_json(out / "confusion.json", {"setting": setting, **emb.confusion(vectors, selection.categories())})
    points = emb.project_umap(vectors, e.seed) if e.projection == "umap" else emb.project_2d(vectors)
    title = f"{recipe.name} {setting} ({e.pooling} pooling, {e.projection.upper()})"
    (out / "projection.png").write_bytes(emb.projection_png(points, selection, title))
    return silhouette


def _split(recipe: Recipe, root: Path) -> dict[str, Any]:
    from factory.crossft.training import require_quantization

    require_quantization(recipe.crosslingual.quantization, f"{recipe.path or recipe.name}: crosslingual.quantization")
    return read_upstream(recipe, base_dir(recipe, root) / "split" / "split.json", "generate")


def embed_setting(recipe: Recipe, root: Path, setting: str) -> Path:
    """Write embeddings/<setting>/ (silhouette.json, confusion.json, projection.png) for one model."""
    split = _split(recipe, root)
    out = embeddings_dir(recipe, root) / setting
    with atomic_dir(out) as tmp:
        _write_setting(recipe, root, setting, split, tmp)
    return out


def summary_entry(silhouette: dict[str, Any]) -> dict[str, Any]:
    """The summary of one setting: overall silhouette per split and per language."""
    splits = silhouette["splits"]
    return {"pooling": silhouette["pooling"], "overall": {name: part["overall"] for name, part in splits.items()},
            "per_language": {name: part["per_language"] for name, part in splits.items()},
            "undefined": {name: part["undefined"] for name, part in splits.items() if part["undefined"]}}


def embed_all(recipe: Recipe, root: Path) -> Path:
    """Write embeddings/: one folder per chosen setting (`crosslingual.embeddings.settings`) and summary.json."""
    e = recipe.crosslingual.embeddings
    settings = e.chosen(recipe.crosslingual)
    split = _split(recipe, root)
    for setting in settings:
        _adapter(recipe, root, setting)  # every upstream adapter present before the first model loads
    out = embeddings_dir(recipe, root)
    with atomic_dir(out) as tmp:
        summary = {setting: summary_entry(_write_setting(recipe, root, setting, split, tmp / setting))
                   for setting in settings}
        write_json(tmp / "summary.json", {"settings": settings, "enabled": e.enabled, "results": summary})
    return out


def embed_if_enabled(recipe: Recipe, root: Path) -> Path | None:
    """`embed_all` when `crosslingual.embeddings.enabled` (what `factory run` does after certify), else None."""
    return embed_all(recipe, root) if recipe.crosslingual.embeddings.enabled else None
