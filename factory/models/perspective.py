"""The Perspective API as a toxicity scorer (`models.toxicity: perspective:TOXICITY`).

SGEAT (NVIDIA/Megatron-LM `examples/detxoify_lm/annotations/perspective_api_annotate.py`) and
Breaking mBad score toxicity with Perspective. Each text is sent to
`<base_url>/comments:analyze` as the reference does - `{"comment": {"text": ...},
"requestedAttributes": {"TOXICITY": {}}, "languages": ["en"], "spanAnnotations": false}`
(plus `"doNotStore": true`) - after cutting it to `max_bytes` UTF-8 bytes (reference: 20,480,
on a character boundary); the score is `attributeScores.TOXICITY.summaryScore.value`.
An empty text is not sent (the API refuses it; the reference leaves it unscored) and scores 0.

- Key: read from the environment variable `perspective.api_key_env` (a dedicated `*_API_KEY`
  name) only when a text must be sent, and sent only in the `X-Goog-Api-Key` header to
  `base_url` - never in a URL, a message, a log line or provenance (which records the
  variable's name).
- Rate: at most `qps` requests per second (the API's default quota is 1), one at a time.
- Retries: 429, 5xx, timeouts and connection errors are retried `max_retries` times with
  exponential backoff (1, 2, 4 ... s, at most 60 s, or the server's Retry-After); any other
  error stops the run with the API's message.
- Cache: every score is committed at once to <data>/cache/perspective.sqlite (WAL), keyed by
  (base_url, attribute, languages, text as sent), so an interrupted or repeated run sends
  only texts not scored before. Perspective's model changes over time; cached scores are
  those of the day they were fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from factory.core.layout import Layout
from factory.core.errors import FactoryError
from factory.models.sqlite_store import open_store
from factory.recipe.base import PERSPECTIVE, ModelSpec, PerspectiveSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 60.0
_SCHEMA = "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score REAL NOT NULL, created REAL NOT NULL)"


def settings_of(spec: ModelSpec) -> PerspectiveSettings:
    """The client settings of a `perspective:` spec (defaults when the recipe gives none)."""
    return spec.perspective or PerspectiveSettings()


def describe_perspective(spec: ModelSpec) -> dict[str, Any]:
    """Provenance of a Perspective scorer: attribute, endpoint, languages, text cut, key variable (not the key)."""
    settings = settings_of(spec)
    return {"ref": spec.ref, "api": f"{settings.base_url}/comments:analyze", "languages": settings.languages,
            "max_bytes": settings.max_bytes, "api_key_env": settings.api_key_env,
            "note": "a live API: scores follow Google's model of the day they were fetched (cached after)"}


def cut_text(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def request_body(text: str, attribute: str, languages: list[str] | None) -> dict[str, Any]:
    """The comments:analyze request of one text (as the SGEAT reference builds it, and not stored by Google)."""
    body: dict[str, Any] = {"comment": {"text": text}, "requestedAttributes": {attribute: {}},
                            "spanAnnotations": False, "doNotStore": True}
    if languages:
        body["languages"] = list(languages)
    return body


def response_score(payload: Any, attribute: str, where: str = "Perspective API") -> float:
    """The summary score of `attribute` in a comments:analyze response."""
    try:
        return float(payload["attributeScores"][attribute]["summaryScore"]["value"])
    except (KeyError, TypeError, ValueError):
        raise FactoryError(f"{where}: the Perspective API's answer holds no {attribute} summary score") from None


class ScoreCache:
    """SQLite file of scores by request key; usable from any thread."""

    def __init__(self, path: Path):
        self.path, self.lock = Path(path), threading.Lock()
        self.db = open_store(self.path, _SCHEMA, "Perspective cache")

    def get(self, key: str) -> float | None:
        """The stored score, or None."""
        with self.lock:
            row = self.db.execute("SELECT score FROM scores WHERE key = ?", (key,)).fetchone()
        return None if row is None else float(row[0])

    def put(self, key: str, score: float) -> None:
        """Store one score (committed at once)."""
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO scores (key, score, created) VALUES (?, ?, ?)",
                            (key, score, time.time()))


class PerspectiveScorer:
    """texts -> Perspective score of the spec's attribute, one per text (a `Scorer`)."""

    def __init__(self, spec: ModelSpec, root: Path = Path("data"), *, sleep: Callable[[float], None] = time.sleep):
        self.spec, self.settings = spec, settings_of(spec)
        self.attribute = spec.ref.removeprefix(PERSPECTIVE)
        self.cache = ScoreCache(Layout(root).cache_root / "perspective.sqlite")
        self.sleep, self.last_request = sleep, -float("inf")
        self.sent = 0
        self._client: Any = None

    def key_of(self, text: str) -> str:
        """The cache key of one text as sent."""
        blob = json.dumps([self.settings.base_url, self.attribute, self.settings.languages, text], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of `texts` (0 for empty ones), from the cache or the API."""
        scores = np.zeros(len(texts), dtype=np.float64)
        done: dict[str, float] = {}
        try:
            for i, raw in enumerate(texts):
                text = cut_text(raw or "", self.settings.max_bytes)
                if not text.strip():
                    continue
                key = self.key_of(text)
                if key not in done:
                    cached = self.cache.get(key)
                    done[key] = cached if cached is not None else self._fetch(key, text)
                scores[i] = done[key]
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None
        return scores

    def _fetch(self, key: str, text: str) -> float:
        score = self._analyze(text)
        self.cache.put(key, score)
        return score

    def _api_key(self) -> str:
        name = self.settings.api_key_env
        value = os.environ.get(name, "").strip()
        if not value:
            raise FactoryError(f"{self.spec.role}: {self.spec.ref} needs the Perspective API key in ${name} "
                               "(not set; texts already scored are read from the cache)")
        return value

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.settings.timeout_s,
                                        headers={"X-Goog-Api-Key": self._api_key()})
        return self._client

    def _wait_turn(self) -> None:
        gap = 1.0 / self.settings.qps - (time.monotonic() - self.last_request)
        if gap > 0:
            self.sleep(gap)
        self.last_request = time.monotonic()

    def _analyze(self, text: str) -> float:
        import httpx

        url = f"{self.settings.base_url}/comments:analyze"
        body = request_body(text, self.attribute, self.settings.languages)
        for attempt in range(self.settings.max_retries + 1):
            client = self._http()
            self._wait_turn()
            self.sent += 1
            try:
                response = client.post(url, json=body)
            except httpx.TransportError as error:
                problem, retry_after = f"{type(error).__name__}", None
            else:
                if response.status_code == 200:
                    return response_score(_json(response), self.attribute, self.spec.role)
                problem, retry_after = self._http_problem(response), response.headers.get("retry-after")
                if response.status_code not in RETRY_STATUSES:
                    raise FactoryError(f"{self.spec.role}: Perspective API refused a request ({problem})")
            if attempt < self.settings.max_retries:
                self.sleep(_backoff(attempt, retry_after))
        raise FactoryError(f"{self.spec.role}: Perspective API failed {self.settings.max_retries + 1} times in a row "
                           f"(last: {problem}); scores so far are cached, rerun to resume")

    def _http_problem(self, response: Any) -> str:
        message = ""
        payload = _json(response)
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            message = str(payload["error"].get("message", ""))[:300]
        key = os.environ.get(self.settings.api_key_env, "").strip()
        if key:
            message = message.replace(key, "***")
        return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _backoff(attempt: int, retry_after: str | None) -> float:
    """Seconds before retry `attempt + 1`: the server's Retry-After when it gives seconds, else 2**attempt."""
    if retry_after:
        try:
            return min(MAX_BACKOFF_S, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return min(MAX_BACKOFF_S, 2.0 ** attempt)
