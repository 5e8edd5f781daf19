"""Metric definitions, pinned once and written on every card.

ParaDetox joint score (Logacheva et al. 2022), as this project computes it:

- STA = 1 - P(toxic | output) from the toxicity classifier (soft), or 1[P(toxic) <= 0.5]
  with `evaluate.scores: argmax`.
- SIM = cosine similarity of the sentence embeddings of input and output.
  Negative cosines are clipped to 0 so that the product stays in [0, 1].
- FL = P(acceptable | output) from the fluency classifier (soft), or 1[P >= 0.5] (argmax).
- J = mean over test inputs of STA * SIM * FL.
- An empty output (no letter or digit) scores SIM = FL = 0, so J = 0: saying nothing is
  not a detoxification, however non-toxic it is.

ChrF and BLEU are sacrebleu corpus scores of the outputs against every human reference
of each input (0-100 scale).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

J_DEFINITION = (
    "J = mean over test inputs of STA*SIM*FL; STA = 1 - P(toxic) (toxicity classifier), "
    "SIM = max(0, cosine of input and output sentence embeddings), FL = P(acceptable) (fluency classifier); "
    "an empty output scores 0"
)


def as_scores(probabilities: np.ndarray, mode: str) -> np.ndarray:
    """Soft scores as given, or argmax decisions (1.0 where p >= 0.5) for `mode == "argmax"`."""
    p = np.asarray(probabilities, dtype=np.float64)
    return (p >= 0.5).astype(np.float64) if mode == "argmax" else p


def joint_scores(sta: np.ndarray, sim: np.ndarray, fl: np.ndarray) -> np.ndarray:
    """Per-row STA * SIM * FL, with SIM clipped to [0, 1]."""
    return np.asarray(sta, float) * np.clip(np.asarray(sim, float), 0.0, 1.0) * np.asarray(fl, float)


def summary(sta: np.ndarray, sim: np.ndarray, fl: np.ndarray) -> dict[str, float]:
    """Means of STA, SIM, FL and J."""
    j = joint_scores(sta, sim, fl)
    mean = lambda a: float(np.mean(a)) if len(a) else 0.0  # noqa: E731
    return {"STA": mean(sta), "SIM": mean(np.clip(sim, 0, 1)), "FL": mean(fl), "J": mean(j)}


def reference_scores(outputs: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus ChrF and BLEU of outputs against each input's list of references."""
    import sacrebleu

    if not outputs:
        return {"ChrF": 0.0, "BLEU": 0.0}
    width = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else refs[0] for refs in references] for k in range(width)]
    return {"ChrF": float(sacrebleu.corpus_chrf(list(outputs), streams).score),
            "BLEU": float(sacrebleu.corpus_bleu(list(outputs), streams).score)}


MULTILINGUAL_J_DEFINITION = (
    "multilingual J = mean over test inputs of STA*SIM*ChrF; STA = 1 - P(toxic) (multilingual toxicity "
    "classifier), SIM = max(0, cosine of input and output sentence embeddings) (LaBSE in full), ChrF = sentence "
    "chrF of the output against the input's human references (sacrebleu defaults: character 6-grams, beta 2; "
    "best reference) / 100"
)


def sentence_chrf(outputs: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
    """Per-output sentence chrF against that input's references, scaled to [0, 1]."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    return np.asarray([chrf.sentence_score(out, list(refs)).score / 100.0 if out.strip() else 0.0
                       for out, refs in zip(outputs, references)], dtype=np.float64)


def multilingual_summary(sta: np.ndarray, sim: np.ndarray, chrf: np.ndarray) -> dict[str, float]:
    """Means of STA, SIM, ChrF and the multilingual J = mean of STA*SIM*ChrF (see MULTILINGUAL_J_DEFINITION)."""
    j = joint_scores(sta, sim, chrf)
    mean = lambda a: float(np.mean(a)) if len(a) else 0.0  # noqa: E731
    return {"STA": mean(sta), "SIM": mean(np.clip(sim, 0, 1)), "ChrF": mean(chrf), "J": mean(j)}
