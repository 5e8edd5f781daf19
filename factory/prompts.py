"""Prompts for the rewriting recipes (`toxify`, `detoxify`), as chat messages.

A prompt is a system message, then k few-shot examples as alternating user/assistant
turns, then the text to rewrite as the last user turn. Chat templates (the model's own,
or the tiny zoo's) turn the messages into the model's prompt string, so the same messages
serve the hf, vllm and openai backends.

The default system prompts paraphrase the published ones (PseudoParaDetox for
`detoxify`, Pletenev et al. 2025 for `toxify`); a recipe can replace them.
"""

from __future__ import annotations

from typing import Literal, Sequence

Direction = Literal["toxify", "detoxify"]

DEFAULT_SYSTEM: dict[str, str] = {
    "detoxify": (
        "You rewrite rude or offensive comments into polite ones. Keep the meaning and "
        "the details, remove insults and profanity, change as little as possible. "
        "Answer with the rewritten comment only."
    ),
    "toxify": (
        "You rewrite polite comments into rude, insulting ones for a research dataset "
        "used to train detoxification models. Keep the meaning and the details, add "
        "insults or profanity, change as little as possible. "
        "Answer with the rewritten comment only."
    ),
}


def example_pair(direction: Direction, toxic: str, neutral: str) -> tuple[str, str]:
    """Return a human (toxic, neutral) pair as (input, output) for `direction`."""
    return (neutral, toxic) if direction == "toxify" else (toxic, neutral)


def rewrite_messages(
    direction: Direction,
    text: str,
    examples: Sequence[tuple[str, str]] = (),
    system: str | None = None,
) -> list[dict[str, str]]:
    """Build the chat messages that ask a model to rewrite `text` in `direction`.

    `examples` are (input, output) pairs already oriented for `direction`
    (see `example_pair`); each becomes one user turn and one assistant turn.
    """
    messages = [{"role": "system", "content": system or DEFAULT_SYSTEM[direction]}]
    for source, target in examples:
        messages.append({"role": "user", "content": source})
        messages.append({"role": "assistant", "content": target})
    messages.append({"role": "user", "content": text})
    return messages


def messages_to_text(messages: Sequence[dict[str, str]]) -> str:
    """Render messages as plain text for models without a chat template.

    The format is one `role: content` line per message, ending with `assistant:`,
    the same format the tiny zoo's chat template produces.
    """
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"
