"""Language and script checks for the nine languages of cross-lingual detoxification.

The languages are those of multilingual ParaDetox and of Beniwal et al. 2025:
am ar de en es hi ru uk zh. Three checks, each a drop reason:

- `wrong_language`: py3langid (an offline naive-Bayes detector that ships its model and
  covers all nine, Amharic included) restricted to the nine languages names another
  language, or gives the declared one a probability below `min_confidence`.
- `wrong_script`: another script has more letters in the text than the script of the
  declared language (Ethiopic, Arabic, Latin, Devanagari, Cyrillic or Han; see `SCRIPT_RANGES`).
- `mixed_script`: the declared script is the most frequent one but holds less than
  `min_script_share` of the letters; optionally also a word that mixes letters of two
  scripts (Latin homoglyphs inside a Cyrillic word). Han text has no spaces between
  words, so the word rule never applies to it.

Only letters count (`str.isalpha`): digits, punctuation, emoji and combining marks are
neutral. A text with no letters at all is `empty`.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

LANGUAGES: tuple[str, ...] = ("am", "ar", "de", "en", "es", "hi", "ru", "uk", "zh")
"""ISO 639-1 codes of the nine languages."""

LANGUAGE_NAMES: dict[str, str] = {
    "am": "Amharic", "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish",
    "hi": "Hindi", "ru": "Russian", "uk": "Ukrainian", "zh": "Chinese",
}

LANGUAGE_SCRIPT: dict[str, str] = {
    "am": "Ethiopic", "ar": "Arabic", "de": "Latin", "en": "Latin", "es": "Latin",
    "hi": "Devanagari", "ru": "Cyrillic", "uk": "Cyrillic", "zh": "Han",
}

SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "Latin": ((0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xBA, 0xBA), (0xC0, 0x24F), (0x1E00, 0x1EFF),
              (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)),
    "Cyrillic": ((0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)),
    "Arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "Devanagari": ((0x900, 0x97F), (0xA8E0, 0xA8FF)),
    "Ethiopic": ((0x1200, 0x139F), (0x2D80, 0x2DDF), (0xAB00, 0xAB2F)),
    "Han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)),
}
"""Code-point ranges of the six scripts; any other letter counts as script `Other`."""

_WORD = re.compile(r"\S+")


def script_of(char: str) -> str:
    """The script of one character among SCRIPT_RANGES, else `Other`."""
    point = ord(char)
    for script, ranges in SCRIPT_RANGES.items():
        if any(low <= point <= high for low, high in ranges):
            return script
    return "Other"


def script_counts(text: str) -> Counter[str]:
    """Letters of `text` counted by script."""
    return Counter(script_of(ch) for ch in text if ch.isalpha())


def has_mixed_word(text: str) -> bool:
    """True when a space-separated word holds letters of two scripts (Han excepted)."""
    for word in _WORD.findall(text):
        scripts = {script_of(ch) for ch in word if ch.isalpha()}
        if len(scripts) > 1 and "Han" not in scripts:
            return True
    return False


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def identify(text: str) -> tuple[str, float]:
    """(language, probability) of `text` among the nine languages (py3langid)."""
    language, probability = _identifier().classify(text or "")
    return str(language), float(probability)


@dataclass(frozen=True)
class LanguageCheck:
    """Outcome of checking one text against its declared language.

    reason: None when the text passes, else empty / wrong_script / mixed_script / wrong_language.
    predicted, confidence: py3langid's language and its probability.
    script_share: share of the letters written in the declared language's script.
    """

    reason: str | None
    predicted: str
    confidence: float
    script_share: float


def check_language(text: str, lang: str, *, min_script_share: float = 0.7, min_confidence: float = 0.0,
                   script: bool = True, language: bool = True, mixed_words: bool = False) -> LanguageCheck:
    """Check that `text` is written in `lang`; the first failing check names the reason.

    Order: empty, wrong_script, mixed_script, wrong_language. `script=False` or
    `language=False` turn the script or the language-ID checks off.
    """
    if lang not in LANGUAGE_SCRIPT:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    counts = script_counts(text or "")
    letters = sum(counts.values())
    predicted, confidence = identify(text) if letters else ("", 0.0)
    share = counts[LANGUAGE_SCRIPT[lang]] / letters if letters else 0.0
    reason = None
    if not letters:
        reason = "empty"
    elif script and counts[LANGUAGE_SCRIPT[lang]] < max(counts.values()):
        reason = "wrong_script"
    elif script and (share < min_script_share or (mixed_words and has_mixed_word(text))):
        reason = "mixed_script"
    elif language and (predicted != lang or confidence < min_confidence):
        reason = "wrong_language"
    return LanguageCheck(reason, predicted, confidence, share)


def check_many(texts: Sequence[str], lang: str, **settings) -> list[LanguageCheck]:
    """`check_language` for every text, with the same settings."""
    return [check_language(text, lang, **settings) for text in texts]
