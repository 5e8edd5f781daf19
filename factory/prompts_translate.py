"""The translation prompt of the `translate` kind, as chat messages.

Each side of a pair is translated in its own request: a system message that names the
two languages and says what must survive translation on that side (the toxic side stays
as offensive as it is, the neutral side stays polite; both keep their meaning), then the
text as the only user turn. No few-shot examples: the published models (Aya 23,
Aya Expanse, Qwen2.5 Instruct) translate zero-shot, and human translations of
detoxification pairs are not available in most target languages.
"""

from __future__ import annotations

from typing import Literal

from factory.core.langid import LANGUAGE_NAMES

Side = Literal["toxic", "neutral"]

DEFAULT_SYSTEM = (
    "You are a professional translator preparing a research dataset for training text "
    "detoxification models. Translate the user's text from {source_language} into "
    "{target_language}. Keep the full meaning and every detail. {side_note} "
    "Answer with the {target_language} translation only, without quotes, notes or explanations."
)

SIDE_NOTES: dict[str, str] = {
    "toxic": (
        "The text is deliberately rude or offensive: keep it exactly as offensive, rendering every "
        "insult and swear word by a natural {target_language} equivalent of the same strength; do "
        "not soften, censor or comment on it."
    ),
    "neutral": "The text is polite: keep it polite and do not add anything rude or offensive.",
}


def translate_messages(text: str, side: Side, source: str, target: str,
                       system: str | None = None) -> list[dict[str, str]]:
    """Chat messages asking for the translation of one side of a pair from `source` into `target`.

    `system` is a template with {source_language}, {target_language} and {side_note}
    (default DEFAULT_SYSTEM); languages are ISO 639-1 codes of factory.core.langid.LANGUAGES.
    """
    names = {"source_language": LANGUAGE_NAMES[source], "target_language": LANGUAGE_NAMES[target]}
    note = SIDE_NOTES[side].format(**names)
    content = (system or DEFAULT_SYSTEM).format(side_note=note, **names)
    return [{"role": "system", "content": content}, {"role": "user", "content": text}]
