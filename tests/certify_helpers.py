"""Hand-made evaluate outputs for certification tests: per-input J, corpus scores, the files on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factory.certify_evidence import CorpusSide, Evidence
from factory.core.records import Record, write_json, write_records

GOOD_REPORT = {"kept": 50, "contamination": 0, "train_test_leakage": 0, "near_dup_rate": 0.1, "refusal_rate": 0.05,
               "copy_rate": 0.02, "distinct2_ratio": 0.9, "synthetic": {"distinct_2": 0.45},
               "human": {"distinct_2": 0.5}}
GOOD_EVAL = {"definition": "J = ...", "scores": "soft",
             "systems": {"identity": {"J": 0.1}, "ratio-0.00": {"J": 0.5, "ratio": 0.0},
                         "ratio-0.50": {"J": 0.45, "ratio": 0.5}, "ratio-1.00": {"J": 0.4, "ratio": 1.0}}}
GOOD_STATS = {"train": 200, "test": 40}
VOCAB = ("the a of to and in is it you that he was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she").split()


def input_scores(evaluation: dict, inputs: int = 60, spread: float = 0.05, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-input J of every system whose mean is exactly the system's J in `evaluation`.

    Inputs share a difficulty term, as real test inputs do (that is what the paired bootstrap keeps).
    """
    rng = np.random.default_rng(seed)
    difficulty = rng.uniform(-spread, spread, inputs)
    out = {}
    for system, summary in evaluation["systems"].items():
        noise = difficulty + rng.uniform(-spread / 2, spread / 2, inputs)
        out[system] = summary["J"] + noise - noise.mean()
    return out


def sentences(rows: int, seed: int) -> list[str]:
    """Random eight-word sentences over a small vocabulary (a diverse corpus)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(VOCAB, 8)) for _ in range(rows)]


def corpus_side(rows: int, sim: float, fl: float, sta: float, seed: int, texts: list[str] | None = None) -> CorpusSide:
    """Per-row scores scattered around the given means, with their texts."""
    rng = np.random.default_rng(seed)
    scores = {name: np.clip(mean + rng.normal(0, 0.03, rows), 0, 1) for name, mean in
              (("SIM", sim), ("FL", fl), ("STA", sta))}
    return CorpusSide(scores, texts if texts is not None else sentences(rows, seed))


def evidence(evaluation: dict = GOOD_EVAL, synthetic: CorpusSide | None = None, **scores) -> Evidence:
    """Evidence of a good release: paired per-input J, a synthetic side as good as the human one."""
    return Evidence(input_scores(evaluation, **scores),
                    {"synthetic": synthetic or corpus_side(50, 0.7, 0.8, 0.2, 1),
                     "human": corpus_side(200, 0.72, 0.82, 0.2, 2)})


def write_eval_outputs(root: Path, name: str, evaluation: dict, found: Evidence) -> None:
    """metrics.json, rows.parquet (one row per system and test input) and corpus.parquet, as `evaluate` writes them."""
    folder = root / "eval" / name
    write_json(folder / "metrics.json", evaluation)
    rows = []
    for system, values in found.input_scores.items():
        for i, value in enumerate(values):
            record = Record.make("pair", toxic=f"test input {i}", neutral=f"output of {system} {i}", split="test")
            record.attributes = {"system": system, "J": float(value)}
            rows.append(record)
    write_records(folder / "rows.parquet", rows)
    corpus = []
    for side, scored in found.corpus.items():
        for i, text in enumerate(scored.texts):
            record = Record.make("pair", toxic=text, neutral=f"{side} neutral {i}")
            record.attributes = {"side": side, "synthetic_side": "toxic",
                                 **{part: float(scored.scores[part][i]) for part in ("STA", "SIM", "FL")}}
            corpus.append(record)
    write_records(folder / "corpus.parquet", corpus)
