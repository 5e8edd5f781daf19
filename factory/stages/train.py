"""Stage `train`: the recipe's kind trains its models on every mix (`factory.kinds`).

Pair kinds train the seq2seq reference detoxifier (`factory.train.pairs`), LM kinds the target
LMs (`factory.train.causal`). Checkpoints live under data/cache/<recipe>/train/ (outside DVC
outputs) so an interrupted run resumes.
"""

from __future__ import annotations

from pathlib import Path

from factory.core.errors import check_limit
from factory.kinds import kind_of
from factory.recipe import Recipe


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None) -> Path:
    """Write data/trained/<recipe>/<mix>/ (model + train_log.json) for every mix."""
    check_limit(limit, "train")
    return kind_of(recipe).train(recipe, root, limit)
