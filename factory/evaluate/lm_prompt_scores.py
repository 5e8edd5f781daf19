"""Prompt groups by a score of each prompt (SGEAT's RealToxicityPrompts report) and dotted field paths.

SGEAT (Megatron-LM `examples/detxoify_lm/perspective_api.py`) reports EMT and TP over all
prompts, then apart for toxic prompts (the prompt's Perspective toxicity > 0.5) and non-toxic
ones (<= 0.5); prompts without a score are in neither. With `lm_evaluate.score_groups` each
prompt's group is `toxic`, `nontoxic` or `unscored`, so the pooled figures cover every prompt
and the groups give the reference's two splits.

RealToxicityPrompts (`allenai/real-toxicity-prompts`) keeps the prompt as a struct column:
`prompt.text`, `prompt.toxicity`, ... A field path with dots walks into such structs.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from factory.recipe.lm import ScoreGroups

TOXIC, NONTOXIC, UNSCORED = "toxic", "nontoxic", "unscored"
"""The groups `score_groups` puts prompts in."""


def nested(row: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`prompt.text`) of a row whose columns may be structs; None where absent."""
    value: Any = row
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def score_group(score: Any, settings: ScoreGroups) -> str:
    """`toxic`, `nontoxic`, or `unscored` for a missing or non-numeric score."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
        return UNSCORED
    toxic = score > settings.threshold if settings.toxic_when == "above" else score >= settings.threshold
    return TOXIC if toxic else NONTOXIC
