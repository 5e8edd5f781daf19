"""Scores of the corpus itself, for the certificate's quality floors (kinds toxify and detoxify).

Generation already records SIM and toxicity per row (attributes `similarity`, `toxicity`)
but not fluency, and the human pairs carry no scores at all. So that both sides are
measured alike, the evaluate stage scores the kept synthetic pairs (data/filtered) and the
human train pairs (data/human) here, with the scorers of J it has loaded (the same STA,
SIM and FL, in `evaluate.scores` mode): SIM of the pair's two sides, STA and FL of the side
the generator wrote (toxify: the toxic side; detoxify: the neutral side), and of the same
side of the human pairs. `factory.certify_floors` turns them into gates.

Written to data/eval/<recipe>/corpus.parquet: one row per scored pair (its id, texts,
source and language), attributes `side` ("synthetic" or "human"), `synthetic_side`, `STA`,
`SIM` and `FL`. Other kinds write the file empty.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from factory.recipe import Recipe
from factory.core.records import Record, read_records
from factory.core.layout import Layout

def score_side(scorers: Any, rows: Sequence[Record], label: str, side: str) -> list[Record]:
    """Copies of `rows` with STA, SIM and FL of `side` (SIM against the other side) in their attributes."""
    if not rows:
        return []
    other = "toxic" if side == "neutral" else "neutral"
    scores = scorers.score([getattr(r, other) or "" for r in rows], [getattr(r, side) or "" for r in rows])
    return [replace(r, attributes={"side": label, "synthetic_side": side,
                                   **{part: float(scores[part][i]) for part in ("STA", "SIM", "FL")}})
            for i, r in enumerate(rows)]


def corpus_rows(recipe: Recipe, root: Path, scorers: Any, side: str | None = None) -> list[Record]:
    """Scored kept synthetic pairs, then scored human train pairs, on the generated `side`
    (none without a side: kinds without synthetic-side floors)."""
    if side is None:
        return []
    synthetic = read_records(Layout(root).filtered_rows(recipe.name), kept_only=True)
    human = read_records(Layout(root).human_split(recipe.name, "train"))
    return score_side(scorers, synthetic, "synthetic", side) + score_side(scorers, human, "human", side)
