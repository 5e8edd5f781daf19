"""The `openai` backend: a client of any OpenAI-compatible server, first of all `vllm serve`.

- `chat` mode posts the messages to /chat/completions (the server applies the chat
  template); `completion` mode renders them locally with the model's tokenizer (as the hf
  and vllm backends do) and posts the text to /completions with `add_special_tokens:
  false` (a vLLM extension: the template already holds the special tokens).
- Every request carries its own `seed`; `top_k` (a vLLM extension) is sent only when set.
- At most `concurrency` requests are in flight (a pool of that many asyncio workers);
  each has a total timeout of `timeout_s`.
- 429, 5xx, connection errors, dropped connections and timeouts are retried up to
  `max_retries` times with exponential backoff and jitter (a `Retry-After` header is
  honoured); other 4xx stop the run at once. Once retries run out the run stops with a
  `FactoryError` naming the URL and the last error.
- The API key is read from the environment variable `api_key_env` names (`server_api_key`:
  only a dedicated `*_API_KEY` variable, never a credential of another service); it is
  never logged and is masked in any error text.
- A choice with `finish_reason` "length" is a truncated completion (`Completion.truncated`).

`generate_streaming` reports each request the moment it returns, so `CachedBackend`
commits it before the next one finishes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.errors import FactoryError
from factory.models.backends.base import Completion, Request, render_prompt
from factory.models.loading import describe as describe_model
from factory.models.loading import resolve
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling, ServerSettings, api_key_env_problem

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
"""First retry delay; it doubles with every retry, up to `BACKOFF_MAX_S`."""
BACKOFF_MAX_S = 60.0

OnResult = Callable[[int, list[Completion]], None]
"""Called with (request index, completions) as each request returns."""
FAILED_FINISH_REASONS = ("abort", "error")
"""vLLM's finish reasons of a request it aborted (for example while shutting down) or failed:
the text is partial, so the request is retried instead of stored."""


def server_api_key(settings: ServerSettings) -> str | None:
    """The bearer token for `settings.base_url`: the value of `settings.api_key_env` (None when unset).

    The variable's name is checked again here, as settings copied with `model_copy(update=...)`
    skip validation: a credential of another service (HF_TOKEN, AWS_*, ...) is never read.
    """
    problem = api_key_env_problem(settings.api_key_env)
    if problem:
        raise FactoryError(f"generate.server.api_key_env: {problem}")
    return os.environ.get(settings.api_key_env) or None


def choice_completion(choice: dict[str, Any], mode: str) -> Completion:
    """One answer choice as a `Completion`: its stripped text (`message.content` in chat
    mode, `text` in completion mode), truncated when its `finish_reason` is "length"."""
    text = (choice.get("message") or {}).get("content") if mode == "chat" else choice.get("text")
    return Completion((text or "").strip(), truncated=choice.get("finish_reason") == "length")


class RetryableError(Exception):
    """A failure worth retrying (429, 5xx, connection error, timeout, malformed answer)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def backoff_delay(retry: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `retry` (1, 2, ...): base * 2^(retry-1), capped, jittered."""
    delay = min(cap, base * 2 ** (retry - 1)) * random.uniform(0.5, 1.0)
    return max(delay, min(retry_after, cap)) if retry_after else delay


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class OpenAIBackend:
    """Generate by calling an OpenAI-compatible server; see the module docstring."""

    name = "openai"

    def __init__(self, spec: ModelSpec, root: Path, settings: ServerSettings,
                 backoff: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_MAX_S)):
        self.spec, self.root, self.settings = spec, Path(root), settings
        self.base_url = settings.base_url.rstrip("/")
        self.backoff = backoff
        self._api_key = server_api_key(settings)
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
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        limits = httpx.Limits(max_connections=self.settings.concurrency, max_keepalive_connections=self.settings.concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=self.settings.timeout_s, limits=limits) as client:
            model = await self._model_name(client)
            queue = iter(range(len(requests)))

            async def worker() -> None:
                for index in queue:
                    body = self._body(model, requests[index], sampling)
                    on_result(index, await self._complete(client, body, sampling.n))

            workers = [asyncio.ensure_future(worker()) for _ in range(min(self.settings.concurrency, len(requests)))]
            try:
                await asyncio.gather(*workers)
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    def _body(self, model: str, request: Request, sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "temperature": sampling.temperature, "top_p": sampling.top_p,
                                "max_tokens": sampling.max_new_tokens, "n": sampling.n, "seed": request.seed}
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.top_k:
            body["top_k"] = sampling.top_k
        if self.settings.mode == "chat":
            body["messages"] = [dict(m) for m in request.messages]
        else:
            body["prompt"] = render_prompt(self._completion_tokenizer(), request.messages)
            body["add_special_tokens"] = False
        return body

    async def _complete(self, client: Any, body: dict[str, Any], n: int) -> list[Completion]:
        path = "/chat/completions" if self.settings.mode == "chat" else "/completions"

        def parse(answer: Any) -> list[Completion]:
            choices = sorted(answer.get("choices") or [], key=lambda c: c.get("index", 0))
            if len(choices) != n:
                raise RetryableError(f"expected {n} choices, got {len(choices)}")
            failed = [c.get("finish_reason") for c in choices if c.get("finish_reason") in FAILED_FINISH_REASONS]
            if failed:
                raise RetryableError(f"the server ended a completion with finish_reason {failed[0]!r}")
            return [choice_completion(c, self.settings.mode) for c in choices]

        return await self._call(client, "POST", path, body, parse)

    async def _model_name(self, client: Any) -> str:
        """The served model id: the recipe's model if the server lists it, else its only model."""
        if self._served_model is None:
            answer = await self._call(client, "GET", "/models", None, lambda a: a)
            served = [m.get("id") for m in answer.get("data") or [] if isinstance(m, dict)]
            wanted = [name for name in (self.spec.ref, resolve(self.spec, self.root)) if name in served]
            if wanted:
                self._served_model = wanted[0]
            elif len(served) == 1:
                self._served_model = served[0]
            else:
                raise FactoryError(f"models.generator: {self.base_url} serves {served}, not {self.spec.ref!r}; "
                                   "serve that model or name one of these")
        return self._served_model

    async def _call(self, client: Any, method: str, path: str, body: Any, parse: Callable[[Any], Any]) -> Any:
        """One API call with retries; returns `parse(json)` or raises `FactoryError`."""
        url = f"{self.base_url}{path}"
        retries, last_error, retry_after = self.settings.max_retries, "", None
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt, *self.backoff, retry_after))
            try:
                return parse(await self._send(client, method, url, body))
            except RetryableError as error:
                last_error, retry_after = self._mask(str(error)), error.retry_after
                log.warning("%s %s failed (%s); retry %d of %d", method, url, last_error, attempt + 1, retries)
        raise FactoryError(f"openai backend: {method} {url} failed after {retries + 1} attempts "
                           f"(generate.server.max_retries = {retries}); last error: {last_error}")

    async def _send(self, client: Any, method: str, url: str, body: Any) -> Any:
        import httpx

        try:
            response = await asyncio.wait_for(client.request(method, url, json=body), self.settings.timeout_s)
        except (httpx.TransportError, asyncio.TimeoutError) as error:
            raise RetryableError(f"{type(error).__name__}: {error}".rstrip(": ")) from error
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"HTTP {response.status_code}: {response.text[:300]}",
                                 _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 400:
            raise FactoryError(f"openai backend: {method} {url} was refused with HTTP {response.status_code}: "
                               f"{self._mask(response.text[:500])}")
        try:
            return response.json()
        except ValueError as error:
            raise RetryableError(f"invalid JSON in the answer: {response.text[:100]!r}") from error

    def _mask(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

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
