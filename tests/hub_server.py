"""A recording stand-in for the Hugging Face Hub HTTP API, for publish tests.

It answers the handful of endpoints `HfApi.create_repo`, `repo_info` and `upload_folder`
call (create, info, validate-yaml, tree, preupload, commit), records every request, and
can be told to fail an endpoint with an HTTP status. Files are always accepted as
"regular" uploads, so a commit carries every file's bytes in its NDJSON body.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HubState:
    """What the fake Hub knows and what it was sent."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    commits: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    existing_files: list[str] = field(default_factory=list)
    existing_private: bool | None = None
    fail: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget every request and failure setting."""
        self.__init__()


def _parse_commit(body: bytes) -> dict[str, Any]:
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    commit: dict[str, Any] = {"header": None, "files": {}, "deleted": []}
    for line in lines:
        value = line["value"]
        if line["key"] == "header":
            commit["header"] = value
        elif line["key"] == "file":
            commit["files"][value["path"]] = base64.b64decode(value["content"])
        elif line["key"] == "deletedFile":
            commit["deleted"].append(value["path"])
        else:
            commit.setdefault("other", []).append(line)
    return commit


class _Handler(BaseHTTPRequestHandler):
    state: HubState

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        return

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    def _failure(self, path: str) -> int | None:
        return next((status for fragment, status in self.state.fail.items() if fragment in path), None)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        self.state.requests.append({"method": self.command, "path": path, "headers": dict(self.headers), "body": body})
        status = self._failure(path)
        if status:
            return self._reply(status, {"error": f"injected failure {status}"})
        if path == "/api/repos/create":
            payload = json.loads(body)
            self.state.created.append(payload)
            if self.state.existing_private is not None:
                return self._reply(409, {"error": "You already created this dataset repo",
                                         "url": f"{self._base()}/datasets/{payload.get('organization')}/"
                                                f"{payload['name']}"})
            return self._reply(200, {"url": f"{self._base()}/datasets/{payload.get('organization')}/{payload['name']}"})
        if path == "/api/validate-yaml":
            return self._reply(200, {"errors": [], "warnings": []})
        parts = path.split("/")  # /api/datasets/ORG/NAME/<verb>/<revision>...
        repo_id = "/".join(parts[3:5])
        verb = parts[5] if len(parts) > 5 else ""
        if verb in ("", "revision"):
            private = self.state.existing_private if self.state.existing_private is not None else True
            return self._reply(200, {"id": repo_id, "private": private, "sha": "0" * 40})
        if verb == "tree":
            return self._reply(200, [{"type": "file", "path": p, "oid": "1" * 40, "size": 1}
                                     for p in self.state.existing_files])
        if verb == "preupload":
            files = json.loads(body)["files"]
            return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                               for f in files]})
        if verb == "commit":
            self.state.commits.append(_parse_commit(body))
            return self._reply(200, {"commitUrl": f"{self._base()}/datasets/{repo_id}/commit/{'a' * 40}",
                                     "commitOid": "a" * 40})
        return self._reply(404, {"error": f"unknown endpoint {self.command} {path}"})

    do_GET = do_POST = do_PUT = _handle


class FakeHub:
    """A running fake Hub on 127.0.0.1 (use as a context manager); `url` is its endpoint."""

    def __init__(self) -> None:
        self.state = HubState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
