"""SIM of J from a pair classifier, as PseudoParaDetox scores it (`src/utils/evaluate.py`).

PseudoParaDetox's SIM is BLEURT (`Elron/bleurt-large-128`, a BERT sequence classifier with one
regression output): the tokenizer reads (input, output) as a sentence pair, the input first as
BLEURT's reference, cut at 512 tokens (or the model's limit), and SIM is the sigmoid of the
score. `load_j_similarity` picks this scorer for a model whose config names a
`*ForSequenceClassification` architecture and the sentence-embedding cosine otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from factory.core.errors import FactoryError
from factory.models.loading import Similarity, _hf_classifier, _spec, loading, max_input_tokens, resolve
from factory.recipe.base import ModelSpec

REFERENCE_MAX_TOKENS = 512
"""PseudoParaDetox's `classify_texts` truncates at 512 tokens."""


class PairSimilarity:
    """Sigmoid of a one-output sequence classifier's score on (left, right) sentence pairs."""

    def __init__(self, spec: ModelSpec, root: Path, batch_size: int = 32):
        target = resolve(spec, root)
        with loading(spec, target):
            self.model, self.tokenizer = _hf_classifier(target, spec.revision, spec.dtype)
        if self.model.config.num_labels != 1:
            raise FactoryError(f"evaluate.similarity: {spec.ref} has {self.model.config.num_labels} outputs; a pair "
                               "similarity classifier (such as BLEURT) has one")
        limit = max_input_tokens(self.model, self.tokenizer)
        self.max_length = min(limit, REFERENCE_MAX_TOKENS) if limit else REFERENCE_MAX_TOKENS
        self.batch_size = batch_size

    def pairwise(self, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
        """sigmoid(score(left[i], right[i])) for every i."""
        import torch

        if len(left) != len(right):
            raise ValueError("pairwise similarity needs lists of equal length")
        out: list[np.ndarray] = []
        for start in range(0, len(left), self.batch_size):
            stop = start + self.batch_size
            enc = self.tokenizer([t or "" for t in left[start:stop]], [t or "" for t in right[start:stop]],
                                 padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                out.append(torch.sigmoid(self.model(**enc).logits.float()[:, 0]).numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros(0)


def is_pair_classifier(spec: ModelSpec, root: Path) -> bool:
    """True when the model's config names a sequence-classification architecture (BLEURT), not an encoder."""
    from transformers import AutoConfig

    target = resolve(spec, root)
    with loading(spec, target):
        config = AutoConfig.from_pretrained(target, revision=spec.revision)
    return any(name.endswith("ForSequenceClassification") for name in (config.architectures or []))


def load_j_similarity(spec: ModelSpec | str, root: Path = Path("data")) -> Any:
    """The SIM model of J: a pair classifier (BLEURT) or a sentence-embedding model (cosine)."""
    spec = _spec(spec)
    return PairSimilarity(spec, root) if is_pair_classifier(spec, root) else Similarity(spec, root)
