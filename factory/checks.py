"""Output checks for generated text; each failed check is a drop reason.

Reasons (the strings stored in `Record.drop_reason`):

- `empty`: nothing but whitespace and punctuation was generated.
- `truncated`: generation hit the token limit without ending (no stop string / EOS), as
  the backend reports it (`Completion.truncated`); off with `checks.truncated: false`.
- `refusal`: the output opens like a refusal; `REFUSAL_PATTERNS` is the documented list,
  matched case-insensitively against the start of the output (after quotes/spaces).
  "I cannot/can't/won't" counts only when a verb of doing follows within three words
  ("I cannot create that"), so "I cannot believe this idiot" is not a refusal; "I apologize"
  counts unless "for" follows; `REFUSAL_ANYWHERE` (assistant boilerplate such as "Can I help
  you with anything else?") counts wherever it appears.
- `copy`: the output is the input (equal after `normalise`) or its similarity to the
  input is above `checks.copy_max_similarity`.
- `meaning_lost`: similarity to the input is below `checks.min_similarity`.
- `wrong_direction`: a toxify output scored non-toxic, or a detoxify output scored toxic
  (P(toxic) against `checks.toxicity_threshold`).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from factory.recipe.generate import Checks
from factory.text import normalise

_REFUSAL_VERBS = (
    r"help|assist|create|generate|provide|fulfil+|comply|write|rewrite|produce|do|engage|make|complete|"
    r"support|continue|perform|change|transform|modify|rephrase|paraphrase|answer|participate|agree|"
    r"promote|encourage|condone|use|add|include|offer|respond|give"
)
REFUSAL_PATTERNS: tuple[str, ...] = (
    r"i\s+(?:cannot|can ?not|can't|can’t|won't|won’t|will not|am not able to|'m not able to|’m not able to|"
    r"am unable to|'m unable to|’m unable to)\s+(?:\w+\s+){0,2}?(?:" + _REFUSAL_VERBS + r")\b",
    r"i\s+apologi[sz]e\b(?!\s+for\b)",
    r"i\s+(?:must decline|refuse|do not feel comfortable|don't feel comfortable)\b",
    r"(?:i'm|i’m|i am)\s+sorry\b",
    r"sorry,?\s+(?:but\s+)?i\b",
    r"as an ai\b",
    r"(?:unfortunately|i'm afraid|i’m afraid),?\s+i\b",
    r"it(?:'s| is) not appropriate\b",
    r"(?:this|that) (?:request|content) (?:is|would be) (?:inappropriate|offensive|harmful)\b",
)
_REFUSAL = re.compile(r"^[\s\"'“‘(\[*-]*(?:" + "|".join(REFUSAL_PATTERNS) + ")", re.IGNORECASE)
REFUSAL_ANYWHERE = r"(?:can|may) i help you with (?:anything|something) else|is there anything else i can help"
"""Assistant boilerplate that marks a refusal wherever it appears in the output."""
_REFUSAL_ANYWHERE = re.compile(REFUSAL_ANYWHERE, re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """True when `text` opens like a refusal (see REFUSAL_PATTERNS)."""
    return bool(_REFUSAL.match(text or "") or _REFUSAL_ANYWHERE.search(text or ""))


def is_empty(text: str) -> bool:
    """True when `text` has no letters or digits."""
    return not any(ch.isalnum() for ch in text or "")


def check_outputs(
    inputs: Sequence[str],
    outputs: Sequence[str],
    *,
    checks: Checks,
    direction: str,
    similarity: np.ndarray,
    toxicity: np.ndarray,
    truncated: Sequence[bool] | None = None,
) -> list[str | None]:
    """Return, per output, the first failed check's reason, or None when it passes.

    `similarity[i]` is the cosine of input i and output i; `toxicity[i]` is P(toxic) of
    output i; `truncated[i]` says whether output i hit the token limit (None: unknown, never
    `truncated`). Checks run in the order of the module docstring.
    """
    reasons: list[str | None] = []
    for i, (source, output) in enumerate(zip(inputs, outputs)):
        reasons.append(_first_failure(i, source, output, checks, direction, similarity, toxicity, truncated))
    return reasons


def _first_failure(i: int, source: str, output: str, checks: Checks, direction: str,
                   similarity: np.ndarray, toxicity: np.ndarray, truncated: Sequence[bool] | None) -> str | None:
    if is_empty(output):
        return "empty"
    if checks.truncated and truncated is not None and truncated[i]:
        return "truncated"
    if checks.refusal and is_refusal(output):
        return "refusal"
    if normalise(output) == normalise(source) or similarity[i] > checks.copy_max_similarity:
        return "copy"
    if similarity[i] < checks.min_similarity:
        return "meaning_lost"
    if checks.direction:
        toxic = toxicity[i] > checks.toxicity_threshold
        if (direction == "toxify" and not toxic) or (direction == "detoxify" and toxic):
            return "wrong_direction"
    return None
