"""Recipe section `crosslingual.embeddings`: the embedding analysis of Breaking mBad.

Reference: `embeddings/2-aya-8b.py` (causal LMs) and `embeddings/2-mt5.py` (mT5) of
himanshubeniwal/Breaking-mBad, run by `embeddings/2-*.sh` on the zero-shot and the all-language SFT
models (10/20/30/100%); algorithms in `factory.crossft.embeddings`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from factory.recipe.base import Section, Seed

ZERO_SHOT = "zero-shot"
"""The base model's setting name (as `factory.crossft.matrices.ZERO_SHOT`)."""


class Embeddings(Section):
    """Per model: silhouette of sentence vectors by language, category confusion, a 2-D picture (embeddings/2-*.py)."""

    enabled: bool = Field(False, description="Run the analysis (reference: embeddings/2-aya-8b.py, run on every "
                          "model by embeddings/2-*.sh).")
    settings: list[str] | None = Field(
        None, description="Models to embed: `zero-shot` (the base model) or a trained setting named "
        "`<method>-<data>-<percent>` as in trained/ (`sft-all-10`, `sft-de-100`, `dpo-all-100`). null: `zero-shot` "
        "and `sft-all-<percent>` of every share (reference embeddings/2-*.sh: the zero-shot model and the "
        "all-language SFT models at 10/20/30/100%).")
    pooling: Literal["mean", "first", "mean_unmasked"] = Field(
        "mean", description="Sentence vector from the last hidden layer: `mean` over the real tokens (project "
        "default), `first` = position 0 (reference for causal LMs, embeddings/2-aya-8b.py `[:, 0, :]`; in a "
        "decoder-only model it sees the first token only), `mean_unmasked` = mean over every position, pads "
        "included (reference for mT5, embeddings/2-mt5.py encoder_last_hidden_state.mean(dim=1)).")
    projection: Literal["pca", "umap"] = Field(
        "pca", description="The 2-D picture of the vectors: `umap` as the reference (embeddings/2-aya-8b.py: "
        "StandardScaler, then UMAP(n_components=2, random_state=42); needs the optional extra `umap`), or `pca` "
        "(no extra dependency). Only the figure depends on it, no number.")
    max_length: int = Field(512, ge=1, description="Tokens per text at most (reference: max_length=512).")
    batch_size: int = Field(8, ge=1, description="Texts per batch (reference: --batch_size 8 in embeddings/2-*.sh; "
                            "the pooling `mean_unmasked` depends on it).")
    train_samples: int = Field(300, ge=1, description="Toxic and neutral train sentences asked per language "
                               "(reference --train_samples 300; with 400 rows per language the reference shrinks "
                               "train and test to rows // 4 = 100).")
    test_samples: int = Field(100, ge=1, description="Toxic and neutral test sentences asked per language "
                              "(reference --test_samples 100).")
    seed: Seed = Field(42, description="numpy and torch seed set before embedding (reference --seed 42). The rows "
                       "are the split's, shuffled by data.shuffle_seed (reference: shuffle(seed=42)).")

    def chosen(self, cl: Any) -> list[str]:
        """The settings to embed, in order: `settings`, or zero-shot and the trained sft-all-<percent> ones."""
        if self.settings is not None:
            return list(dict.fromkeys(self.settings))
        labels = trained_labels(cl)
        return [ZERO_SHOT, *[label for label in labels if label.startswith("sft-all-")]]

    def settings_problem(self, cl: Any) -> str | None:
        """One line naming the `settings` that are neither zero-shot nor trained by `cl` (the `crosslingual`
        section), or None."""
        trained = trained_labels(cl)
        unknown = [name for name in (self.settings or []) if name not in {ZERO_SHOT, *trained}]
        if not unknown:
            return None
        verb = "is" if len(unknown) == 1 else "are"
        return (f"embeddings.settings: {', '.join(map(repr, unknown))} {verb} neither zero-shot nor a setting this "
                f"recipe trains ({', '.join(trained)})")


def trained_labels(cl: Any) -> list[str]:
    """Labels of every model the `crosslingual` section `cl` trains (`CrossLingual.planned_labels`)."""
    return cl.planned_labels()
