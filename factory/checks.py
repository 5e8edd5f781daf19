"""Output checks for generated text; each failed check is a drop reason.

Reasons (the strings stored in `Record.drop_reason`):

- `empty`: nothing but whitespace and punctuation was generated.
- `truncated`: generation hit the token limit without ending (no stop string / EOS), as
  the backend reports it (`Completion.truncated`); off with `checks.truncated: false`.
- `refusal`: the output is a reply about the request, not a rewrite of the input
  (`is_refusal(output, input)`, on `factory.core.text.normalise`d text). `REQUEST_PATTERNS` (talk
  about the task: "I cannot create/generate/rewrite ...", "Can I help you with anything
  else?", "As an AI", "Here's a rewritten version") mark a refusal wherever they appear;
  `DECLINE_PATTERNS` (openers such as "I'm sorry", "I apologize", "Unfortunately, I",
  "I can't/won't do ...", "I'm not sure what you mean", and "offensive content", "this
  request") mark one only when the output overlaps the input by less than `REWRITE_OVERLAP`
  (share of the output's other content words from the input, or of the input's content
  words kept, whichever is larger). A pattern whose words the input has too is ignored:
  "I'm sorry people are being mean to you" for "i'm sorry people are being dicks to u" is a
  rewrite. Hand-labelled PseudoParaDetox sample: `tests/data/refusal_pseudoparadetox.csv`.
- `copy`: the output is the input (equal after `normalise`) or its similarity to the
  input is above `checks.copy_max_similarity`.
- `meaning_lost`: similarity to the input is below `checks.min_similarity`.
- `wrong_direction`: a toxify output scored non-toxic, or a detoxify output scored toxic
  (P(toxic) against `checks.toxicity_threshold`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from factory.core.rules import Rule, first_reason
from factory.recipe.generate import Checks
from factory.core.text import normalise

_NEGATION = (r"i (?:cannot|can not|cant|wont|will not|am not able to|im not able to|am unable to|"
             r"im unable to|am not going to|im not going to|must decline to|refuse to|do not feel comfortable|"
             r"dont feel comfortable)")
_TASK_VERBS = (r"create|generate|write|rewrite|produce|provide|fulfil+|comply|assist|engage|rephrase|paraphrase|"
               r"translate|participate|promote|condone|encourage|help (?:you|with|create|write|make|rewrite)")
_OTHER_VERBS = (r"help(?! (?:but|\w+ing)\b)|do|make|complete|support|continue|perform|change|transform|modify|"
                r"answer|agree|use|add|include|offer|respond|give")
REQUEST_PATTERNS: tuple[str, ...] = (
    _NEGATION + r" (?:\w+ ){0,2}?(?:" + _TASK_VERBS + r")\b",
    r"(?:can|may) i help you with (?:anything|something) else",
    r"(?:anything|something) else i can (?:help|assist)",
    r"\bas an? (?:ai|language model|assistant)\b",
    r"\bim (?:just )?an? (?:ai|language model)\b",
    r"\bheres? (?:is )?(?:a|the|my) (?:\w+ ){0,2}?(?:version|rewrite|rephrasing|paraphrase)\b",
    r"\b(?:crisis (?:hotline|line)|mental health professional)\b",
    r"\brephrase (?:your|the) (?:question|request|text)\b",
)
"""Talk about the request: a refusal wherever it appears, unless it repeats the input's words."""
DECLINE_PATTERNS: tuple[str, ...] = (
    r"^" + _NEGATION + r" (?:\w+ ){0,2}?(?:" + _OTHER_VERBS + r")\b",
    r"^i apologi[sz]e\b(?! for\b)",
    r"^(?:im|i am) (?:so |very |truly )?sorry\b(?! (?:for|to hear|about)\b)",
    r"^sorry (?:but )?i\b",
    r"^(?:unfortunately|im afraid) i\b",
    r"^(?:it is|its) not appropriate\b",
    r"^im not sure what (?:you mean|youre (?:referring to|talking about|asking|trying to say))",
    r"^im having trouble understanding\b",
    r"^i (?:do not|dont) think (?:thats|that is|this is) a good idea\b",
    r"^i (?:strongly )?(?:advise|caution) against\b",
    r"\b(?:this|that|your) (?:request|prompt)\b",
    r"\b(?:offensive|hateful|harmful|explicit|discriminatory|derogatory|inappropriate|toxic|abusive|vulgar) "
    r"(?:content|language|material|speech)\b",
    r"\bhate speech\b",
)
"""Declining or apologising: a refusal only when it is not a rewrite (low overlap with the input)."""
REFUSAL_PATTERNS: tuple[str, ...] = REQUEST_PATTERNS + DECLINE_PATTERNS
"""Every refusal pattern, matched against `factory.core.text.normalise(output)` (so "I can't" is "i cant")."""
REWRITE_OVERLAP = 0.5
"""A declining output is a rewrite when `_overlap` with its input reaches this."""
_REQUEST = [re.compile(p) for p in REQUEST_PATTERNS]
_DECLINE = [re.compile(p) for p in DECLINE_PATTERNS]
_FUNCTION_WORDS = frozenset(
    "i im id ive ill me my mine you youre your yours we us our they them their he she him her his it its "
    "a an the this that these those there here is are was were be been being am do does did dont doesnt didnt "
    "can cant cannot could couldnt will wont would wouldnt should shall may might must not no to of in on at "
    "for with by from as and or but so if then than too very just any anything something some else what who "
    "how why when which about into out up all thats whats theres heres lets".split())
_ECHO_IGNORED = frozenset("i im am a an the is are to you your with this that can cannot cant not wont will".split())


def _stem(word: str) -> str:
    """A crude stem: one of -ing, -ed, -es, -s off, then a final -e ("voted", "vote" -> "vot")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _content_stems(normalised: str) -> set[str]:
    return {_stem(w) for w in normalised.split() if w not in _FUNCTION_WORDS}


def _is_echo(phrase: str, source_words: set[str]) -> bool:
    """True when the input has every word of a matched refusal phrase but pronouns, articles
    and the negated modal: "i cant answer" in "shit i can 't answer my question"."""
    words = {_stem(w) for w in phrase.split() if w not in _ECHO_IGNORED}
    return bool(words) and words <= source_words


def _cues(patterns: list[re.Pattern[str]], text: str, source: str) -> list[re.Match[str]]:
    """Matches of `patterns` in `text` that are not echoes of `source`."""
    source_words = {_stem(w) for w in source.split()}
    return [m for p in patterns for m in p.finditer(text) if not _is_echo(m.group(), source_words)]


def _overlap(text: str, cues: list[re.Match[str]], source: str) -> float:
    """How much of a rewrite of `source` the output is: the larger of the share of its content
    words (outside the refusal phrases) that are the input's and the share of the input's
    content words it keeps (a toxic rewrite adds words, a neutral one drops them)."""
    rest = text
    for match in cues:
        rest = rest.replace(match.group(), " ")
    words, source_words = _content_stems(rest), _content_stems(source)
    shared = len(words & source_words)
    return max(shared / len(words) if words else 0.0, shared / len(source_words) if source_words else 0.0)


def is_refusal(text: str, source: str | None = None) -> bool:
    """True when `text` is a reply about the request rather than a rewrite of `source`.

    A REQUEST_PATTERNS match is a refusal; a DECLINE_PATTERNS match is one when the output
    overlaps the input by less than REWRITE_OVERLAP (`_overlap`). A match whose words the
    input has too is no evidence ("I can't answer my question" for "i can't answer my
    question"). Without `source` every match counts; a source in another language (translate)
    shares no words, so there too every match counts.
    """
    output, source_text = normalise(text or ""), normalise(source or "")
    if _cues(_REQUEST, output, source_text):
        return True
    declines = _cues(_DECLINE, output, source_text)
    return bool(declines) and _overlap(output, declines, source_text) < REWRITE_OVERLAP


def is_empty(text: str) -> bool:
    """True when `text` has no letters or digits."""
    return not any(ch.isalnum() for ch in text or "")


@dataclass(frozen=True)
class Output:
    """One generated output as the checks see it: its input (`source`), its scores and its direction."""

    source: str
    text: str
    similarity: float
    toxicity: float
    truncated: bool
    direction: str


def _wrong_direction(o: Output, checks: Checks) -> bool:
    toxic = o.toxicity > checks.toxicity_threshold
    return checks.direction and ((o.direction == "toxify" and not toxic) or (o.direction == "detoxify" and toxic))


OUTPUT_RULES: tuple[Rule[Output, Checks], ...] = (
    Rule("empty", lambda o, c: is_empty(o.text)),
    Rule("truncated", lambda o, c: c.truncated and o.truncated),
    Rule("refusal", lambda o, c: c.refusal and is_refusal(o.text, o.source)),
    Rule("copy", lambda o, c: normalise(o.text) == normalise(o.source) or o.similarity > c.copy_max_similarity),
    Rule("meaning_lost", lambda o, c: o.similarity < c.min_similarity),
    Rule("wrong_direction", _wrong_direction),
)
"""The checks in the order of the module docstring."""


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
    `truncated`). Checks run in the order of `OUTPUT_RULES`.
    """
    return [first_reason(OUTPUT_RULES, Output(source, output, similarity[i], toxicity[i],
                                              bool(truncated is not None and truncated[i]), direction), checks)
            for i, (source, output) in enumerate(zip(inputs, outputs))]
