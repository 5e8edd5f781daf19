"""The one protocol every generation backend follows (hf, vllm, openai).

A backend takes requests (chat messages + a per-request seed) and sampling settings and
returns, for each request in input order, its `n` completions as `Completion`s.

`Completion` is a `str` subclass with one extra attribute, `truncated`: True when the
generation ran into the token limit (`sampling.max_new_tokens`) without ending by itself,
False when it ended with EOS (or another stop token) or was cut at a stop string. A `str`
subclass rather than a (text, flag) dataclass so every caller that treats completions as
text - prompts, records, JSON, equality with expected strings - keeps working unchanged,
while the output checks read the flag (`is_truncated`). `strip`, `lstrip` and `rstrip`
keep the flag (whitespace around a completion is not its content); other string operations
(slicing, `+`, `replace`) return plain `str` and drop it, so read it before those; equality and
hashing are those of the text alone. Each backend derives the flag from
its engine: vLLM `finish_reason == "length"`, an OpenAI-compatible answer's choice
`finish_reason == "length"`, hf from the new tokens (see `HFBackend`), Ray's vLLM stage
from the generated tokens (`factory.engines.ray_generate.reached_token_limit`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from factory.prompts import messages_to_text
from factory.recipe.generate import Sampling


class Completion(str):
    """One generated text that also says whether it hit the token limit (see the module doc).

    `Completion(text, truncated=True)`; `str(completion)` is the plain text. Treat the flag
    as read-only.
    """

    truncated: bool

    def __new__(cls, text: str = "", truncated: bool = False) -> "Completion":
        self = super().__new__(cls, text)
        self.truncated = bool(truncated)
        return self

    def __repr__(self) -> str:
        return f"Completion({str.__repr__(self)}, truncated={self.truncated})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Completion, (str(self), self.truncated))

    def strip(self, chars: str | None = None) -> "Completion":
        """The text without surrounding `chars` (whitespace), still flagged."""
        return Completion(str.strip(self, chars), self.truncated)

    def lstrip(self, chars: str | None = None) -> "Completion":
        """The text without leading `chars` (whitespace), still flagged."""
        return Completion(str.lstrip(self, chars), self.truncated)

    def rstrip(self, chars: str | None = None) -> "Completion":
        """The text without trailing `chars` (whitespace), still flagged."""
        return Completion(str.rstrip(self, chars), self.truncated)


def is_truncated(text: str) -> bool:
    """The `truncated` flag of a `Completion`; False for a plain `str` (nothing is known)."""
    return bool(getattr(text, "truncated", False))


@dataclass(frozen=True)
class Request:
    """One generation request.

    key: stable identity of the request (row id, plus attempt when re-sampling).
    messages: chat messages; backends render them with the model's chat template.
    seed: the request's own sampling seed (see `request_seed`).
    """

    key: str
    messages: tuple[dict[str, str], ...]
    seed: int
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class Backend(Protocol):
    """A text generator: `generate` returns n `Completion`s per request, in input order.

    Optional, for the request cache (`factory.models.cache`): `commit_every` (requests
    per call, committed after each), `generate_streaming(requests, sampling, on_result)`
    (reports each request as it returns), and a `client` key in `describe()` for
    settings that do not change outputs (left out of cache keys).
    """

    name: str

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """Generate completions for every request."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance: backend name, model, engine settings."""
        ...


def request_seed(base_seed: int, key: str, attempt: int = 0) -> int:
    """A 31-bit seed derived from the recipe seed, the row key and the attempt number."""
    digest = hashlib.sha256(f"{base_seed}:{key}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


PLAIN_ROLE = "plain"
"""Role of a request's only message when its content is a plain-text prompt, sent as is
without any chat template (selfgen's BOS prompt; openai needs `server.mode: completion`)."""


def plain_prompt(text: str) -> tuple[dict[str, str], ...]:
    """Request messages that make `text` a plain-text prompt (see `PLAIN_ROLE`)."""
    return ({"role": PLAIN_ROLE, "content": text},)


def render_prompt(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """Render chat messages with the tokenizer's chat template, or the plain fallback."""
    if len(messages) == 1 and messages[0].get("role") == PLAIN_ROLE:
        return messages[0]["content"]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return messages_to_text(messages)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` at the first stop string (the stop string itself is removed)."""
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if 0 <= at < cut:
                cut = at
    return text[:cut]
