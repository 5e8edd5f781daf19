"""Fault injection for the openai backend: an HTTP proxy and a tiny fake OpenAI server.

`FaultProxy` forwards every request to an upstream server (the real vLLM server, or
`FakeOpenAIServer` in fast tests) and applies a fault schedule keyed by the number of the
POST it receives (or of the request of the `methods` given): `500`, `429`, `408`, `400` and `401` (both echo the
Authorization header), `timeout` (answers only after `slow_s`), `drop` (closes the connection without an answer),
`abort` (the upstream's answer with every choice aborted), `garbage` (200 with a body that is not JSON). When the
upstream is down it answers 502. It serves at most
`max_requests` requests, then answers 503, so a runaway client cannot loop forever.

`FakeOpenAIServer` answers /v1/models, /v1/chat/completions and /v1/completions with a
deterministic text derived from (prompt, seed, choice index), ended with finish_reason
"length" when `max_tokens` is below `FAKE_TEXT_TOKENS` and "stop" otherwise - fakes are for
fault injection and answer parsing only; the real-server tests compare against real vLLM output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from typing import Any

import aiohttp
from aiohttp import web


class _ServerThread:
    """An aiohttp application served on 127.0.0.1:port from its own thread and event loop."""

    def __init__(self, app: web.Application, port: int):
        self.app, self.port = app, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def start(self) -> "_ServerThread":
        """Start serving; returns when the port is bound."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
            self.runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        """Base URL of the OpenAI API, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"


class FaultProxy(_ServerThread):
    """Forward to `upstream` (a base URL like http://127.0.0.1:P), injecting scheduled faults."""

    def __init__(self, upstream: str, port: int, faults: dict[int, str] | None = None,
                 slow_s: float = 3.0, max_requests: int = 2000, methods: tuple[str, ...] = ("POST",)):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        super().__init__(app, port)
        self.upstream, self.faults, self.slow_s, self.max_requests = (upstream.rstrip("/"), faults or {}, slow_s,
                                                                      max_requests)
        self.methods = methods
        self.posts = 0
        self.requests = 0
        self.injected: list[str] = []
        self.forwarded_ok = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.requests > self.max_requests:
            return web.Response(status=503, text="fault proxy: request limit reached")
        fault = None
        if request.method in self.methods:
            self.posts += 1
            fault = self.faults.get(self.posts)
        if fault:
            self.injected.append(fault)
        if fault == "500":
            return web.Response(status=500, text="injected internal error")
        if fault in ("400", "401"):
            sent = request.headers.get("Authorization")
            return web.Response(status=int(fault), text=f"injected refusal; you sent {sent}")
        if fault == "408":
            return web.Response(status=408, text="injected request timeout")
        if fault == "garbage":
            return web.Response(status=200, text="<html>not JSON</html>", content_type="application/json")
        if fault == "429":
            return web.Response(status=429, text="injected rate limit", headers={"Retry-After": "0"})
        if fault == "drop":
            request.transport.close()
            return web.Response(status=200)
        if fault == "timeout":
            await asyncio.sleep(self.slow_s)
        if fault == "abort":  # what vLLM answers for a request it aborts while shutting down
            return await self._forward(request, abort=True)
        return await self._forward(request)

    async def _forward(self, request: web.Request, abort: bool = False) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        try:
            async with aiohttp.ClientSession() as session:
                async with session.request(request.method, self.upstream + request.path_qs, data=body,
                                           headers=headers, timeout=aiohttp.ClientTimeout(total=120)) as answer:
                    payload = await answer.read()
                    if abort and answer.status == 200:
                        payload = _aborted(payload)
                    if answer.status == 200 and request.method == "POST" and not abort:
                        self.forwarded_ok += 1
                    return web.Response(status=answer.status, body=payload, content_type=answer.content_type)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return web.Response(status=502, text=f"fault proxy: upstream unavailable ({type(error).__name__})")


def _aborted(payload: bytes) -> bytes:
    """The answer with every choice cut to its first character and finish_reason "abort"."""
    answer = json.loads(payload)
    for choice in answer.get("choices", []):
        choice["finish_reason"] = "abort"
        if isinstance(choice.get("message"), dict):
            choice["message"]["content"] = (choice["message"].get("content") or "")[:1]
        if "text" in choice:
            choice["text"] = choice["text"][:1]
    return json.dumps(answer).encode()


def fake_text(prompt: Any, seed: int | None, index: int) -> str:
    """The fake server's deterministic completion for (prompt, seed, choice index)."""
    digest = hashlib.sha256(json.dumps([prompt, seed, index], sort_keys=True).encode()).hexdigest()
    return f"fake {digest[:12]}"


FAKE_TEXT_TOKENS = 4
"""Tokens the fake server pretends a fake text has: fewer `max_tokens` end it with "length"."""


class FakeOpenAIServer(_ServerThread):
    """A minimal OpenAI-compatible server with deterministic answers, serving model `fake`."""

    def __init__(self, port: int, delay_s: float = 0.0):
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        super().__init__(app, port)
        self.delay_s = delay_s
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def _models(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _answer(self, request: web.Request, chat: bool) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        await asyncio.sleep(self.delay_s)
        prompt = body["messages"] if chat else body["prompt"]
        texts = [fake_text(prompt, body.get("seed"), i) for i in range(body.get("n", 1))]
        finish = "length" if body.get("max_tokens", 16) < FAKE_TEXT_TOKENS else "stop"
        if chat:
            choices = [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
                       for i, t in enumerate(texts)]
        else:
            choices = [{"index": i, "text": t, "finish_reason": finish} for i, t in enumerate(texts)]
        return web.json_response({"choices": list(reversed(choices))})

    async def _chat(self, request: web.Request) -> web.Response:
        return await self._answer(request, chat=True)

    async def _completions(self, request: web.Request) -> web.Response:
        return await self._answer(request, chat=False)
