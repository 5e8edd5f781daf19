"""Checks of translated (and directly read) pairs; each failed check is a drop reason.

Both sides of a pair are checked; the first check (in this order) that fails on either
side names the reason, and `drop_side` says which side failed (toxic, neutral or both):

- `empty`: the side has no letters.
- `truncated`: the side's generation hit the token limit without ending (the backend's
  `Completion.truncated`; translated sides only).
- `refusal`: the side is a refusal, judged against its source (`factory.checks.is_refusal`; a
  source in another language shares no words, so every refusal pattern counts).
- `copy`: a translated side equals its source after `factory.core.text.normalise`.
- `wrong_script` / `mixed_script` / `wrong_language`: see `factory.core.langid`.
- `meaning_lost`: cross-lingual cosine of source side and translated side below
  `checks.min_similarity`.
- `toxicity_lost`: the toxic side is not toxic (P(toxic) <= `checks.toxicity_threshold`).
- `neutral_toxic`: the neutral side is toxic.

Rows read directly from human data in their language (no source) get only the checks
that need no source: empty, script and language, plus the toxicity checks when
`checks.human_rows` is `all`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from factory.checks import is_refusal
from factory.core.langid import LanguageCheck
from factory.core.rules import Rule
from factory.recipe.translate import TranslateChecks
from factory.core.records import Record
from factory.core.text import normalise

SIDES = ("toxic", "neutral")


@dataclass(frozen=True)
class SideScores:
    """What the checks know about one side of one pair.

    text: the side in the target language; source: the text it was translated from
    (None for human rows); language: its language check; similarity: cosine to the
    source (None without a source); toxicity: P(toxic); truncated: its generation hit
    the token limit.
    """

    text: str
    source: str | None
    language: LanguageCheck
    similarity: float | None
    toxicity: float
    truncated: bool = False


SideRule = Rule[SideScores, TranslateChecks]
"""A check of one side of a pair (`Rule.side`: the side it concerns, None for both)."""


def _language_reason(reason: str) -> SideRule:
    return Rule(reason, lambda s, c: s.language.reason == reason)


RULES: tuple[SideRule, ...] = (
    Rule("empty", lambda s, c: s.language.reason == "empty"),
    Rule("truncated", lambda s, c: c.truncated and s.truncated),
    Rule("refusal", lambda s, c: c.refusal and s.source is not None and is_refusal(s.text, s.source)),
    Rule("copy", lambda s, c: c.reject_copies and s.source is not None and normalise(s.text) == normalise(s.source)),
    _language_reason("wrong_script"),
    _language_reason("mixed_script"),
    _language_reason("wrong_language"),
    Rule("meaning_lost", lambda s, c: s.similarity is not None and s.similarity < c.min_similarity),
    Rule("toxicity_lost", lambda s, c: c.toxic_stays_toxic and s.toxicity <= c.toxicity_threshold, side="toxic"),
    Rule("neutral_toxic", lambda s, c: c.neutral_stays_neutral and s.toxicity > c.toxicity_threshold, side="neutral"),
)
"""The checks in the order they are applied."""

TOXICITY_REASONS = ("toxicity_lost", "neutral_toxic")


def first_failure(sides: dict[str, SideScores], checks: TranslateChecks, *,
                  human: bool = False) -> tuple[str | None, str | None]:
    """(reason, failed side) of the first failing check, or (None, None) when the pair passes.

    `human` marks a pair read directly from human data: the toxicity checks apply to it
    only when `checks.human_rows` is `all`.
    """
    for rule in RULES:
        if human and rule.reason in TOXICITY_REASONS and checks.human_rows != "all":
            continue
        failed = [side for side in SIDES if rule.concerns(side) and rule(sides[side], checks)]
        if failed:
            return rule.reason, failed[0] if len(failed) == 1 else "both"
    return None, None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(rows: Sequence[Record], toxicity_threshold: float) -> dict[str, Any]:
    """Outcomes and check statistics of checked rows (any languages).

    language_agreement: share of sides (all rows, kept or not) that py3langid assigns to
    the row's language; `_translated` restricts it to translations (the translator's
    quality). Over kept rows: translation_similarity (mean source-translation cosine of
    both sides, translations only), pair_similarity (toxic-neutral cosine), toxic_rate
    (toxic sides scored toxic) and neutral_rate (neutral sides scored non-toxic).
    """
    kept = [r for r in rows if r.kept]
    translated = [r for r in rows if r.attributes.get("translated")]

    def agreement(subset: Sequence[Record]) -> float | None:
        return _mean([float(r.attributes.get(f"{side}_lang") == r.lang) for r in subset for side in SIDES])

    def attribute(subset: Sequence[Record], name: str) -> list[float]:
        return [float(r.attributes[name]) for r in subset if r.attributes.get(name) is not None]

    kept_translated = [r for r in kept if r.attributes.get("translated")]
    return {
        "rows": len(rows), "kept": len(kept), "translated": len(translated), "human": len(rows) - len(translated),
        "kept_translated": len(kept_translated),
        "outcomes": dict(sorted(Counter(r.drop_reason or "kept" for r in rows).items())),
        "language_agreement": agreement(rows),
        "language_agreement_translated": agreement(translated),
        "translation_similarity": _mean(attribute(kept_translated, "toxic_similarity")
                                        + attribute(kept_translated, "neutral_similarity")),
        "pair_similarity": _mean(attribute(kept, "pair_similarity")),
        "toxic_rate": _mean([float(v > toxicity_threshold) for v in attribute(kept, "toxic_toxicity")]),
        "neutral_rate": _mean([float(v <= toxicity_threshold) for v in attribute(kept, "neutral_toxicity")]),
    }


def language_summary(rows: Sequence[Record], toxicity_threshold: float) -> dict[str, dict[str, Any]]:
    """`summarise` per language, plus `all` over every row."""
    languages = sorted({r.lang for r in rows})
    out = {lang: summarise([r for r in rows if r.lang == lang], toxicity_threshold) for lang in languages}
    out["all"] = summarise(rows, toxicity_threshold)
    return out
