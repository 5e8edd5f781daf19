"""The `openai` backend: a client of any OpenAI-compatible server, first of all `vllm serve`,
on the `openai` SDK's `AsyncOpenAI`.

- `chat` mode calls `chat.completions.create` with the messages (the server applies the
  chat template); `completion` mode renders them locally with the model's tokenizer (as the
  hf and vllm backends do) and calls `completions.create` with the text and
  `add_special_tokens: false` (a vLLM extension: the template already holds the special tokens).
- Every request carries its own `seed`; `top_k` (a vLLM extension) is sent only when set.
- At most `concurrency` requests are in flight (a pool of that many asyncio workers on one client).
- The SDK sends each attempt with a timeout of `timeout_s` (to connect, and between bytes of
  the answer: a non-streamed answer comes whole, so in effect for the whole answer) and
  retries connection errors, timeouts, dropped connections, 408, 409, 429 and 5xx with
  exponential backoff and jitter (from 0.5 s up to 8 s; a `Retry-After` header is honoured);
  other 4xx stop the run at once.
- An answer the server completed but that is unusable - a choice with `finish_reason` "abort"
  or "error" (vLLM aborts requests while it shuts down), the wrong number of choices, or no
  JSON - is never returned (so never cached): the request is sent again after a backoff.
- Both kinds of retry share one budget per call: `max_retries` retries, `max_retries + 1`
  attempts. Once it is spent the run stops with a `FactoryError` naming the URL, the
  attempts and the last error.
- The API key is read from the environment variable `api_key_env` names, and only from
  there (not the SDK's own `OPENAI_API_KEY` fallback), and only from a dedicated `*_API_KEY`
  variable, never a credential of another service (`read_api_key` checks the name again); when
  it is unset the placeholder
  `EMPTY` is sent, which a server started without `--api-key` ignores. The key is never
  logged and is masked in any error text.
- A choice with `finish_reason` "length" is a truncated completion (`Completion.truncated`).

`generate_streaming` reports each request the moment it returns, so `CachedBackend`
commits it before the next one finishes. `openai` is imported only when a run starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from factory.core.errors import FactoryError
from factory.models.backends.base import Completion, Request, render_prompt
from factory.models.loading import describe as describe_model
from factory.models.loading import resolve
from factory.recipe.base import ModelSpec
from factory.recipe.base import api_key_env_problem
from factory.recipe.generate import Sampling, ServerSettings

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
"""First delay before re-sending an unusable answer; it doubles with every retry, up to `BACKOFF_MAX_S`."""
BACKOFF_MAX_S = 60.0
NO_KEY = "EMPTY"
"""The key sent when `api_key_env` is unset: vLLM's documented placeholder for a server without a key."""
RETRIED_STATUS = (408, 409, 429)
"""HTTP statuses the SDK retries, besides every 5xx."""

OnResult = Callable[[int, list[Completion]], None]
"""Called with (request index, completions) as each request returns."""
FAILED_FINISH_REASONS = ("abort", "error")
"""vLLM's finish reasons of a request it aborted (for example while shutting down) or failed:
the text is partial, so the request is retried instead of stored."""


class UnusableAnswer(Exception):
    """A completed answer that cannot be used (aborted choice, wrong choice count, not JSON)."""


def read_api_key(settings: ServerSettings) -> str | None:
    """The API key from the environment variable `settings.api_key_env` names (None when unset or empty).

    The variable's name is checked again here, as settings copied with `model_copy(update=...)`
    skip validation: a credential of another service (HF_TOKEN, AWS_*, ...) is never read.
    """
    problem = api_key_env_problem(settings.api_key_env)
    if problem:
        raise FactoryError(f"generate.server.api_key_env: {problem}")
    return os.environ.get(settings.api_key_env) or None


def mask_key(text: str, key: str | None) -> str:
    """`text` with every occurrence of the API key replaced by ***."""
    return text.replace(key, "***") if key else text


def import_openai() -> Any:
    """The `openai` SDK module, or a `FactoryError` saying how to install it."""
    try:
        import openai
    except ImportError as error:
        raise FactoryError("generate.backend: openai needs the `openai` package; install the project with the "
                           "openai, cpu or gpu extra (e.g. pip install -e '.[openai]')") from error
    return openai


def choice_completion(choice: dict[str, Any], mode: str) -> Completion:
    """One answer choice as a `Completion`: its stripped text (`message.content` in chat
    mode, `text` in completion mode), truncated when its `finish_reason` is "length"."""
    text = (choice.get("message") or {}).get("content") if mode == "chat" else choice.get("text")
    return Completion((text or "").strip(), truncated=choice.get("finish_reason") == "length")


def answer_completions(answer: Any, n: int, mode: str) -> list[Completion]:
    """The `n` completions of a completions answer in choice order, or `UnusableAnswer`."""
    if not isinstance(answer, dict):
        raise UnusableAnswer(f"the answer is not a JSON object: {str(answer)[:100]!r}")
    choices = sorted(answer.get("choices") or [], key=lambda c: c.get("index", 0))
    if len(choices) != n:
        raise UnusableAnswer(f"expected {n} choices, got {len(choices)}")
    failed = [c.get("finish_reason") for c in choices if c.get("finish_reason") in FAILED_FINISH_REASONS]
    if failed:
        raise UnusableAnswer(f"the server ended a completion with finish_reason {failed[0]!r}")
    return [choice_completion(c, mode) for c in choices]


def served_models(answer: Any) -> list[str]:
    """The model ids of a /models answer, or `UnusableAnswer`."""
    if not isinstance(answer, dict):
        raise UnusableAnswer(f"the answer is not a JSON object: {str(answer)[:100]!r}")
    return [m.get("id") for m in answer.get("data") or [] if isinstance(m, dict)]


def pick_served_model(served: list[str], spec: ModelSpec, root: Path, base_url: str) -> str:
    """The model id to request: the recipe's model if the server lists it, else the server's only model."""
    wanted = [name for name in (spec.ref, resolve(spec, root)) if name in served]
    if wanted or len(served) == 1:
        return (wanted or served)[0]
    raise FactoryError(f"models.generator: {base_url} serves {served}, not {spec.ref!r}; "
                       "serve that model or name one of these")


def backoff_delay(retry: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number `retry` (1, 2, ...): base * 2^(retry-1), capped, jittered."""
    return min(cap, base * 2 ** (retry - 1)) * random.uniform(0.5, 1.0)


def attempts_made(error: Any, max_retries: int) -> int:
    """HTTP attempts the SDK made before raising `error`: from the retry count it sent with the
    last attempt (header x-stainless-retry-count), else its whole budget."""
    request = getattr(error, "request", None)
    count = request.headers.get("x-stainless-retry-count") if request is not None else None
    return int(count) + 1 if count and count.isdigit() else max_retries + 1


def describe_failure(error: Any) -> str:
    """The SDK error as one line: `HTTP <status>: <body>` or the transport error under it."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    cause = error.__cause__ or error
    return f"{type(cause).__name__}: {cause}".rstrip(": ")


class OpenAIBackend:
    """Generate by calling an OpenAI-compatible server; see the module docstring."""

    name = "openai"

    def __init__(self, spec: ModelSpec, root: Path, settings: ServerSettings,
                 backoff: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_MAX_S)):
        self.spec, self.root, self.settings = spec, Path(root), settings
        self.base_url = settings.base_url.rstrip("/")
        self.backoff = backoff
        self._api_key = read_api_key(settings)
        self._served_model: str | None = None
        self._tokenizer: Any = None

    def describe(self) -> dict[str, Any]:
        """Provenance; `client` holds settings that do not change outputs (left out of cache keys)."""
        client = self.settings.model_dump(mode="json", exclude={"mode"})
        return {"backend": self.name, "model": describe_model(self.spec, self.root),
                "mode": self.settings.mode, "client": client}

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """`sampling.n` completions per request, in input order."""
        results: list[list[Completion]] = [[] for _ in requests]

        def keep(index: int, outputs: list[Completion]) -> None:
            results[index] = outputs

        self.generate_streaming(requests, sampling, keep)
        return results

    def generate_streaming(self, requests: Sequence[Request], sampling: Sampling, on_result: OnResult) -> None:
        """Run every request, calling `on_result(index, completions)` as each one returns."""
        if requests:
            asyncio.run(self._run_all(list(requests), sampling, on_result))

    async def _run_all(self, requests: list[Request], sampling: Sampling, on_result: OnResult) -> None:
        openai = import_openai()
        async with openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key or NO_KEY,
                                      max_retries=self.settings.max_retries, timeout=self.settings.timeout_s) as client:
            model = await self._model_name(client)
            queue = iter(range(len(requests)))

            async def worker() -> None:
                for index in queue:
                    on_result(index, await self._complete(client, model, requests[index], sampling))

            workers = [asyncio.ensure_future(worker()) for _ in range(min(self.settings.concurrency, len(requests)))]
            try:
                await asyncio.gather(*workers)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    def _create_arguments(self, model: str, request: Request, sampling: Sampling) -> dict[str, Any]:
        """Keyword arguments of `create`: the request body, vLLM's extensions in `extra_body`."""
        arguments: dict[str, Any] = {"model": model, "temperature": sampling.temperature, "top_p": sampling.top_p,
                                     "max_tokens": sampling.max_new_tokens, "n": sampling.n, "seed": request.seed}
        extra: dict[str, Any] = {}
        if sampling.stop:
            arguments["stop"] = list(sampling.stop)
        if sampling.top_k:
            extra["top_k"] = sampling.top_k
        if self.settings.mode == "chat":
            arguments["messages"] = [dict(m) for m in request.messages]
        else:
            arguments["prompt"] = render_prompt(self._completion_tokenizer(), request.messages)
            extra["add_special_tokens"] = False
        return arguments | ({"extra_body": extra} if extra else {})

    async def _complete(self, client: Any, model: str, request: Request, sampling: Sampling) -> list[Completion]:
        arguments = self._create_arguments(model, request, sampling)
        chat = self.settings.mode == "chat"

        def send(sdk: Any) -> Awaitable[Any]:
            endpoint = sdk.chat.completions if chat else sdk.completions
            return endpoint.with_raw_response.create(**arguments)

        return await self._call(client, "POST", "/chat/completions" if chat else "/completions", send,
                                lambda answer: answer_completions(answer, sampling.n, self.settings.mode))

    async def _model_name(self, client: Any) -> str:
        """The served model id: the recipe's model if the server lists it, else its only model."""
        if self._served_model is None:
            served = await self._call(client, "GET", "/models", lambda sdk: sdk.models.with_raw_response.list(),
                                      served_models)
            self._served_model = pick_served_model(served, self.spec, self.root, self.base_url)
        return self._served_model

    async def _call(self, client: Any, method: str, path: str, send: Callable[[Any], Awaitable[Any]],
                    parse: Callable[[Any], Any]) -> Any:
        """One API call within the retry budget; returns `parse(answer JSON)` or raises `FactoryError`."""
        openai = import_openai()
        url, budget, attempts = f"{self.base_url}{path}", self.settings.max_retries, 0
        while True:
            try:
                raw = await send(client.with_options(max_retries=budget - attempts))
            except (openai.APIStatusError, openai.APIConnectionError) as error:
                attempts += attempts_made(error, budget - attempts)
                raise self._failure(method, url, attempts, error) from error
            attempts += raw.retries_taken + 1
            try:
                return parse(raw.http_response.json())
            except (UnusableAnswer, ValueError) as error:
                last_error = self._mask(str(error) if isinstance(error, UnusableAnswer) else
                                        f"invalid JSON in the answer: {raw.http_response.text[:100]!r}")
            if attempts > budget:
                raise self._exhausted(method, url, attempts, last_error)
            log.warning("%s %s: unusable answer (%s); retry %d of %d", method, url, last_error, attempts, budget)
            await asyncio.sleep(backoff_delay(attempts, *self.backoff))

    def _failure(self, method: str, url: str, attempts: int, error: Any) -> FactoryError:
        """The `FactoryError` for an SDK error: a refused request, or retries run out."""
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status is None or status >= 500 or status in RETRIED_STATUS:
            return self._exhausted(method, url, attempts, self._mask(describe_failure(error)))
        hint = f" (is the key in ${self.settings.api_key_env} right?)" if status in (401, 403) else ""
        return FactoryError(f"openai backend: {method} {url} was refused with HTTP {status}{hint}: "
                            f"{self._mask(error.response.text[:500])}")

    def _exhausted(self, method: str, url: str, attempts: int, last_error: str) -> FactoryError:
        return FactoryError(f"openai backend: {method} {url} failed after {attempts} attempts "
                            f"(generate.server.max_retries = {self.settings.max_retries}); last error: {last_error}")

    def _mask(self, text: str) -> str:
        return mask_key(text, self._api_key)

    def _completion_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            target = resolve(self.spec, self.root)
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(target, revision=self.spec.revision)
            except (OSError, ValueError) as error:
                raise FactoryError(f"generate.server.mode: completion mode renders prompts with the model's "
                                   f"tokenizer, which could not be loaded from {target} ({error}); "
                                   "use mode: chat") from error
        return self._tokenizer
