"""A stand-in of the Perspective API on loopback (tests and the rehearsal):
`POST <root>/v1alpha1/comments:analyze`, as Google's answers it.

The score of a text is its share of words that are "rude" (deterministic, in [0, 1]). Every
request is recorded (time, path, headers, body). `faults` is a list of statuses answered to
the first requests in turn (429 with `Retry-After: 0`, 500, 403 echoing the key, as a badly
behaved server might); after it runs out, requests are answered normally.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "AIzaFAKE-test-key-0123456789abcdefghijk"
PATH = "/v1alpha1/comments:analyze"


def fake_score(text: str) -> float:
    """The fake API's TOXICITY score: the share of words that are 'rude'."""
    words = text.split()
    return sum(w.strip(".,!").lower() == "rude" for w in words) / len(words) if words else 0.0


class FakePerspective:
    """The server and what it saw; use as a context manager."""

    def __init__(self, faults: list[int] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.faults = list(faults or [])
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The `perspective.base_url` to give the scorer."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1alpha1"

    def __enter__(self) -> "FakePerspective":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any], dict]:
        with self.lock:
            self.requests.append({"time": time.monotonic(), "path": path, "headers": headers, "body": body})
            fault = self.faults.pop(0) if self.faults else None
        if fault == 429:
            quota = {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}
            return 429, {"Retry-After": "0"}, {"error": quota}
        if fault == 403:
            message = f"API key {headers.get('x-goog-api-key')} not valid. Please pass a valid API key."
            return 403, {}, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
        if fault is not None:
            return fault, {}, {"error": {"code": fault, "message": "Internal error", "status": "INTERNAL"}}
        if path != PATH or headers.get("x-goog-api-key") != KEY:
            return 400, {}, {"error": {"code": 400, "message": "bad request", "status": "INVALID_ARGUMENT"}}
        text = body["comment"]["text"]
        if not text:
            empty = {"code": 400, "message": "Comment must be non-empty.", "status": "INVALID_ARGUMENT"}
            return 400, {}, {"error": empty}
        scores = {name: {"summaryScore": {"value": fake_score(text), "type": "PROBABILITY"}}
                  for name in body["requestedAttributes"]}
        return 200, {}, {"attributeScores": scores, "languages": body.get("languages", ["en"])}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = fake._answer(self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
