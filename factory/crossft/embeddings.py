"""The embedding analysis of Breaking mBad: do a model's sentence vectors cluster by language?

Reference: `embeddings/2-aya-8b.py` (also run on BLOOM and aya-23) and `embeddings/2-mt5.py` of
himanshubeniwal/Breaking-mBad, combined by `embeddings/3_combining_silhoute_scores.py` and drawn by
`embeddings/confusion_matrix.py`. Per model (zero-shot and the all-language SFT models):

- `select_samples`: per language (in order), the shuffled rows; it asks for `train_samples` toxic
  then `train_samples` neutral sentences as train and `test_samples` of each as test, from
  consecutive row ranges; when a language has fewer than 2 * (train + test) rows, both numbers
  become rows // 4 and stay so for the languages after it (the reference's 400-row languages and
  300 + 100 give 100 + 100 for every language: toxic of rows 0-99, neutral of 100-199 as train,
  toxic of 200-299, neutral of 300-399 as test);
- `embed`: one vector per text from the last hidden layer (`POOLINGS`);
- `silhouette`: sklearn's euclidean silhouette with the language as label, overall and the mean of
  the samples of each language, for train, test and both (`analyse`);
- `confusion`: mean cosine similarity between the categories `<lang>_<split>_<toxic|neutral>`;
- `project_2d` / `projection_png`: a 2-D picture. Deviation: the reference draws UMAP (umap-learn,
  random_state 42) of the standardised vectors; umap-learn is not installed here, so this is PCA of
  the standardised vectors. The figure is not the paper's; the numbers (silhouette, confusion) do
  not depend on it.

Undefined statistics (one language, identical vectors, a language with one sample, zero vectors)
are None, each counted by reason under `undefined`; nothing raises on such input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

POOLINGS = ("mean", "first", "mean_unmasked")
"""`mean`: mean of the last hidden layer over the real tokens (project default). `first`: the vector at
position 0 (reference for every causal LM, `[:, 0, :]` of AutoModel's last_hidden_state).
`mean_unmasked`: mean over every position, pads included (reference for mT5: the encoder's
last hidden state `.mean(dim=1)`)."""
SPLITS = ("train", "test", "combined")


@dataclass
class Selection:
    """The texts to embed, aligned lists, and what the selection did per language."""

    texts: list[str] = field(default_factory=list)
    langs: list[str] = field(default_factory=list)
    toxic: list[bool] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    per_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=lambda: {"empty text": 0})

    def mask(self, split: str) -> np.ndarray:
        """Boolean mask of the texts of `split` (`train`, `test`, or `combined` for all)."""
        return np.array([split == "combined" or s == split for s in self.splits], dtype=bool)

    def categories(self) -> list[str]:
        """`<lang>_<split>_<toxic|neutral>` of every text (the reference's confusion categories)."""
        return [category(lang, split, toxic) for lang, split, toxic in zip(self.langs, self.splits, self.toxic)]


def category(lang: str, split: str, toxic: bool) -> str:
    """`de_train_toxic`: the reference's confusion-matrix category name."""
    return f"{lang}_{split}_{'toxic' if toxic else 'neutral'}"


def select_samples(shuffled: Mapping[str, Sequence[Sequence[str]]], train_samples: int = 300,
                   test_samples: int = 100) -> Selection:
    """The reference's texts from each language's shuffled (toxic, neutral) rows, languages in order.

    With t train and s test samples: toxic of rows [0, t) and neutral of [t, 2t) are train, toxic of
    [2t, 2t + s) and neutral of [2t + s, 2t + 2s) are test. A language with fewer than 2 (t + s)
    rows sets t = s = rows // 4, for it and every later language (the reference rebinds its two
    arguments). Empty texts are left out and counted (`dropped`)."""
    selection = Selection()
    train, test = train_samples, test_samples
    for lang, rows in shuffled.items():
        wanted = 2 * (train + test)
        shrunk = len(rows) < wanted
        if shrunk:
            train = test = len(rows) // 4
        parts = [("train", True, 0, train), ("train", False, train, 2 * train),
                 ("test", True, 2 * train, 2 * train + test), ("test", False, 2 * train + test, 2 * (train + test))]
        for split, toxic, start, stop in parts:
            for row in rows[start:stop]:
                text = str(row[0] if toxic else row[1])
                if not text.strip():
                    selection.dropped["empty text"] += 1
                    continue
                selection.texts.append(text)
                selection.langs.append(lang)
                selection.toxic.append(toxic)
                selection.splits.append(split)
        selection.per_language[lang] = {"rows": len(rows), "train_samples": train, "test_samples": test,
                                        "shrunk": shrunk}
    return selection


def embed(model: Any, tokenizer: Any, texts: Sequence[str], pooling: str = "mean", max_length: int = 512,
          batch_size: int = 8) -> np.ndarray:
    """One float32 vector per text from the last hidden layer, `batch_size` texts per padded batch.

    Causal LMs (plain or PEFT-wrapped): `output_hidden_states=True`, the last of them (the final
    norm applied, as AutoModel's last_hidden_state). Encoder-decoder models: the encoder's last
    hidden state. Pooling (`POOLINGS`):

    - `first` is the reference's for causal LMs. In a decoder-only model position 0 attends to
      itself only, so its vector depends on the first token alone: with right padding every text
      that starts with the same token (every text, when the tokenizer adds BOS) gets the same vector,
      and with left padding position 0 is a pad for all but the longest text of the batch. That is
      why the project default is `mean`.
    - `mean` averages the real tokens (attention mask), so a text's vector does not depend on its batch.
    - `mean_unmasked` is the reference's mT5 pooling: pads count, so a vector depends on the longest
      text of its batch.
    """
    import torch

    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}: one of {', '.join(POOLINGS)}")
    seq2seq = bool(getattr(model.config, "is_encoder_decoder", False))
    device = next(model.parameters()).device
    vectors = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        inputs = {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}
        with torch.no_grad():
            hidden = _last_hidden(model, inputs, seq2seq).float()
        vectors.append(_pool(hidden, inputs["attention_mask"], pooling).cpu().numpy())
    return np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)


def _last_hidden(model: Any, inputs: dict[str, Any], seq2seq: bool) -> Any:
    if seq2seq:
        return model.get_encoder()(**inputs).last_hidden_state
    return model(**inputs, output_hidden_states=True).hidden_states[-1]


def _pool(hidden: Any, attention_mask: Any, pooling: str) -> Any:
    if pooling == "first":
        return hidden[:, 0, :]
    if pooling == "mean_unmasked":
        return hidden.mean(dim=1)
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _count(undefined: dict[str, int], reason: str, n: int = 1) -> None:
    undefined[reason] = undefined.get(reason, 0) + n


def _degenerate(vectors: np.ndarray, n_labels: int) -> str | None:
    """Why no silhouette is defined for these vectors, or None."""
    if not np.isfinite(vectors).all():
        return "non-finite vectors"
    if n_labels < 2:
        return "fewer than 2 languages"
    if n_labels > len(vectors) - 1:
        return "fewer samples than languages + 1"
    if np.ptp(vectors, axis=0).max() <= 1e-6 * max(1.0, float(np.abs(vectors).max())):
        return "all vectors identical"
    return None


def silhouette(vectors: np.ndarray, langs: Sequence[str]) -> dict[str, Any]:
    """sklearn's euclidean silhouette with the language as label: `overall` (= silhouette_score) and
    `per_language` (mean of silhouette_samples over the language's texts, languages in first-seen order);
    None where undefined, counted by reason in `undefined`."""
    from sklearn.metrics import silhouette_samples

    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(list(langs))
    names = list(dict.fromkeys(labels.tolist()))
    result: dict[str, Any] = {"overall": None, "per_language": {lang: None for lang in names},
                              "samples": int(len(labels)), "undefined": {}}
    reason = _degenerate(vectors.reshape(len(labels), -1), len(names)) if len(labels) else "no samples"
    if reason:
        _count(result["undefined"], reason, 1 + len(names))
        return result
    values = silhouette_samples(vectors, labels, metric="euclidean")
    result["overall"] = float(values.mean())
    for lang in names:
        chosen = labels == lang
        if chosen.sum() < 2:
            _count(result["undefined"], "language with fewer than 2 samples")
            continue
        result["per_language"][lang] = float(values[chosen].mean())
    return result


def analyse(vectors: np.ndarray, selection: Selection) -> dict[str, dict[str, Any]]:
    """`silhouette` of the train texts, the test texts and all of them (the reference's three CSVs)."""
    vectors = np.asarray(vectors)
    langs = np.asarray(selection.langs)
    return {split: silhouette(vectors[selection.mask(split)], langs[selection.mask(split)].tolist())
            for split in SPLITS}


def confusion(vectors: np.ndarray, categories: Sequence[str]) -> dict[str, Any]:
    """Mean cosine similarity between every two categories (sorted, as the reference's np.unique).

    Vectors of zero norm or with non-finite values have no cosine: they are left out and counted;
    a category left with no vector gets None cells."""
    vectors = np.asarray(vectors, dtype=np.float64).reshape(len(categories), -1)
    labels = np.asarray(list(categories))
    names = sorted(set(labels.tolist()))
    norms = np.linalg.norm(vectors, axis=1) if len(labels) else np.zeros(0)
    usable = np.isfinite(vectors).all(axis=1) & np.isfinite(norms) & (norms > 0)
    undefined: dict[str, int] = {}
    if (~usable).sum():
        _count(undefined, "zero or non-finite vector", int((~usable).sum()))
    unit = vectors[usable] / norms[usable, None]
    kept = labels[usable]
    similarity = unit @ unit.T
    matrix: list[list[float | None]] = []
    for first in names:
        row: list[float | None] = []
        for second in names:
            a, b = kept == first, kept == second
            row.append(float(similarity[a][:, b].mean()) if a.any() and b.any() else None)
        matrix.append(row)
    empty = sum(1 for name in names if not (kept == name).any())
    if empty:
        _count(undefined, "category without a usable vector", empty)
    sizes = {name: int((labels == name).sum()) for name in names}
    return {"categories": names, "matrix": matrix, "sizes": sizes, "undefined": undefined}


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to 2 dimensions of the standardised vectors (as the reference's StandardScaler before UMAP);
    each axis's sign fixed so its largest loading is positive; zeros where the rank is below 2."""
    vectors = np.nan_to_num(np.asarray(vectors, dtype=np.float64)).reshape(len(vectors), -1)
    points = np.zeros((len(vectors), 2))
    if len(vectors) < 2:
        return points
    spread = vectors.std(axis=0)
    scaled = (vectors - vectors.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    _, singular, axes = np.linalg.svd(scaled, full_matrices=False)
    for k in range(min(2, int((singular > 1e-9).sum()))):
        axis = axes[k] * np.sign(axes[k][np.argmax(np.abs(axes[k]))])
        points[:, k] = scaled @ axis
    return points


def project_umap(vectors: np.ndarray, seed: int = 42) -> np.ndarray:
    """UMAP to 2 dimensions of the standardised vectors, as the reference (`StandardScaler`, then
    `umap.UMAP(n_components=2, random_state=42)`); `n_neighbors` is cut to len - 1 below 16 points, which
    UMAP needs. umap-learn is the optional extra `umap`; without it, a one-line `FactoryError`."""
    try:
        import umap
    except ImportError:
        from factory.core.errors import FactoryError

        raise FactoryError("embeddings.projection: umap needs umap-learn (pip install 'detox-factory[umap]', or "
                           "scripts/setup.sh with the umap extra); projection: pca needs nothing") from None
    from sklearn.preprocessing import StandardScaler

    vectors = np.nan_to_num(np.asarray(vectors, dtype=np.float64)).reshape(len(vectors), -1)
    if len(vectors) < 3:
        return np.zeros((len(vectors), 2))
    reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(vectors) - 1))
    return np.asarray(reducer.fit_transform(StandardScaler().fit_transform(vectors)), dtype=np.float64)


def projection_png(points: np.ndarray, selection: Selection, title: str) -> bytes:
    """PNG of the 2-D points: colour = language, shape = split and side (rendered offline with vl-convert)."""
    import vl_convert as vlc

    rows = [{"x": float(x), "y": float(y), "lang": lang, "kind": f"{split} {'toxic' if toxic else 'neutral'}"}
            for (x, y), lang, split, toxic in zip(points, selection.langs, selection.splits, selection.toxic)]
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "width": 520, "height": 420, "data": {"values": rows},
        "mark": {"type": "point", "filled": True, "opacity": 0.7, "size": 40},
        "encoding": {"x": {"field": "x", "type": "quantitative", "title": "PCA 1 (not the paper's UMAP)"},
                     "y": {"field": "y", "type": "quantitative", "title": "PCA 2"},
                     "color": {"field": "lang", "type": "nominal", "title": "language"},
                     "shape": {"field": "kind", "type": "nominal", "title": "split, side"}},
    }
    return vlc.vegalite_to_png(vl_spec=spec, scale=2)
