"""Stage `evaluate`: the recipe's kind scores what `train` made (`factory.kinds`).

Pair kinds: `factory.evaluate.pairs` (J of every mix's detoxifier, the baselines, per-row
scores and the corpus scores of the quality floors); LM kinds: `factory.evaluate.lm`.
"""

from __future__ import annotations

from pathlib import Path

from factory.core.errors import check_limit
from factory.kinds import kind_of
from factory.recipe import Recipe


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Evaluate every trained mix; write data/eval/<recipe>/."""
    check_limit(limit, "evaluate")
    return kind_of(recipe).evaluate(recipe, root, limit)
