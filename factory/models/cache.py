"""A durable request cache in front of any backend: reruns send only the missing requests.

Each finished request is stored in SQLite (WAL mode) under a key that hashes everything its
output depends on: the backend's identity (backend name, model fingerprint, engine settings
- `describe()` without its `client` part), the chat messages, the sampling settings and
the request seed. A changed prompt or setting changes the key, so only the affected
requests run again; the old rows stay and are reused if the setting comes back.

When a result becomes durable:
- backends with `generate_streaming` (openai) report each request as it returns, and
  each one is committed at once - a crash loses only the requests in flight;
- other backends are called on chunks of `inner.commit_every` requests (vllm: 256,
  hf: its batch size) and each chunk is committed when it returns - a crash loses at
  most one chunk. Chunks follow input order. (hf samples each request with its own
  generator, so its outputs do not depend on how requests are batched.)

WAL with `synchronous=NORMAL` survives the process being killed (SIGKILL) at any point;
only a power loss can drop the last commits. Several processes may share one file.

A row's `outputs` is JSON `{"texts": [...], "truncated": [...]}`: the completions and their
`Completion.truncated` flags. Rows written before the flag was stored hold a plain list
of texts; they still load, as completions that are not truncated (the cache cannot know),
so a cache filled by an older version reports no truncation for its rows.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from factory.models.sqlite_store import open_store
from factory.progress import progress
from factory.models.backends.base import Backend, Completion, Request, is_truncated
from factory.recipe.generate import Sampling

DEFAULT_CHUNK = 256
"""Requests per inner call for backends that name no `commit_every`."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    request_key TEXT NOT NULL,
    outputs TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def encode_outputs(outputs: Sequence[str]) -> str:
    """JSON of completions for the `outputs` column: texts and truncated flags."""
    return json.dumps({"texts": [str(o) for o in outputs], "truncated": [is_truncated(o) for o in outputs]},
                      ensure_ascii=False)


def decode_outputs(blob: str) -> list[Completion]:
    """Completions from an `outputs` value; a plain JSON list (the format before the
    truncated flag was stored) gives completions that are not truncated."""
    value = json.loads(blob)
    if isinstance(value, list):
        return [Completion(text) for text in value]
    return [Completion(text, truncated=flag) for text, flag in zip(value["texts"], value["truncated"], strict=True)]


def cache_identity(description: dict[str, Any]) -> dict[str, Any]:
    """The part of a backend's `describe()` that decides its outputs (all but `client`)."""
    return {k: v for k, v in description.items() if k != "client"}


def request_hash(identity: dict[str, Any], request: Request, sampling: Sampling) -> str:
    """sha256 of (backend identity, messages, sampling settings, request seed)."""
    payload = {"backend": identity, "messages": list(request.messages),
               "sampling": sampling.model_dump(mode="json"), "seed": request.seed}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class RequestCache:
    """SQLite file mapping a request hash to its completions (see `encode_outputs`).

    One connection, usable from any thread (calls are serialised by a lock).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.db = open_store(self.path, _SCHEMA, "request cache")

    def get_many(self, hashes: Sequence[str]) -> dict[str, list[Completion]]:
        """Stored completions for the hashes that are present."""
        found: dict[str, list[Completion]] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            with self.lock:
                rows = self.db.execute(f"SELECT key, outputs FROM results WHERE key IN ({marks})", part).fetchall()
            found.update((key, decode_outputs(outputs)) for key, outputs in rows)
        return found

    def put_many(self, rows: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        """Commit (hash, request key, completions) rows in one transaction (flags included)."""
        now = time.time()
        values = [(h, key, encode_outputs(outputs), now) for h, key, outputs in rows]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO results (key, request_key, outputs, created) VALUES (?, ?, ?, ?)", values
                )
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def __len__(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        """Close the connection (the file stays)."""
        self.db.close()


class CachedBackend:
    """A backend that answers from the cache and sends only missing requests to `inner`.

    `stats` counts, over the backend's life, requests answered from the cache (`hits`)
    and requests sent to the inner backend (`misses`).
    """

    def __init__(self, inner: Backend, path: Path):
        self.inner = inner
        self.name = inner.name
        self.cache = RequestCache(path)
        self.identity = cache_identity(inner.describe())
        self.stats = {"hits": 0, "misses": 0}

    def describe(self) -> dict[str, Any]:
        """The inner backend's provenance (the same with or without a cache; see `stats`)."""
        return self.inner.describe()

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """Completions for every request, in input order; only uncached ones are generated."""
        hashes = [request_hash(self.identity, r, sampling) for r in requests]
        results: dict[str, list[Completion]] = self.cache.get_many(hashes)
        missing: dict[str, Request] = {}
        for h, request in zip(hashes, requests):
            if h not in results:
                missing.setdefault(h, request)
        self.stats["hits"] += len(requests) - sum(1 for h in hashes if h in missing)
        self.stats["misses"] += len(missing)
        if missing:
            results.update(self._run(list(missing.items()), sampling))
        return [list(results[h]) for h in hashes]

    def _run(self, todo: list[tuple[str, Request]], sampling: Sampling) -> dict[str, list[Completion]]:
        done: dict[str, list[Completion]] = {}
        bar = progress(total=len(todo), desc=f"generate ({self.name})", unit="req")

        def commit(index: int, outputs: list[Completion]) -> None:
            h, request = todo[index]
            self.cache.put_many([(h, request.key, outputs)])
            done[h] = outputs
            bar.update(1)

        streaming: Callable[..., Any] | None = getattr(self.inner, "generate_streaming", None)
        if streaming is not None:
            streaming([r for _, r in todo], sampling, commit)
            bar.close()
            return done
        chunk = max(1, int(getattr(self.inner, "commit_every", DEFAULT_CHUNK)))
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            outputs = self.inner.generate([r for _, r in part], sampling)
            self.cache.put_many([(h, r.key, out) for (h, r), out in zip(part, outputs)])
            done.update({h: out for (h, _), out in zip(part, outputs)})
            bar.update(len(part))
        bar.close()
        return done
