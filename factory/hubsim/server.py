"""A miniature Hugging Face Hub: the HTTP download API over repos kept in a folder.

Layout of the folder: `models/ORG/NAME/...` and `datasets/ORG/NAME/...`, one folder per
repo, its files as they would be on the Hub. Every repo has one revision, `main`, whose
commit hash is a digest of its files, so `from_pretrained`, `SentenceTransformer`,
`load_dataset`, `snapshot_download` and vLLM's loader run their real download code against
it with `HF_ENDPOINT` set to `HubSim.url`. It answers repo info (`/api/models/ID`, with
`/revision/REV`), file trees (`/tree/REV/PATH`), `paths-info`, and `resolve` downloads
(HEAD and GET, with Range) with the headers huggingface_hub reads: X-Repo-Commit,
ETag / X-Linked-Etag, X-Linked-Size, Content-Length. It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

REVISIONS = ("main",)
"""Revision names every repo answers to (besides its own commit hash)."""

DATE = "2024-01-01T00:00:00.000Z"


class RepoFiles:
    """One repo's files on disk, with the ids the Hub gives them."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        self.sha256 = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in self.files}
        digest = hashlib.sha1("".join(f"{n}:{self.sha256[n]}\n" for n in self.files).encode())
        self.commit = digest.hexdigest()

    def entry(self, name: str) -> dict[str, Any]:
        """A tree / paths-info entry for a file or a directory."""
        if name in self.sha256:
            size = (self.folder / name).stat().st_size
            oid = hashlib.sha1(self.sha256[name].encode()).hexdigest()
            return {"type": "file", "path": name, "oid": oid, "size": size,
                    "lfs": {"oid": self.sha256[name], "size": size, "pointerSize": 134}}
        return {"type": "directory", "path": name, "oid": hashlib.sha1(name.encode()).hexdigest(), "size": 0}

    def listing(self, under: str, recursive: bool) -> list[dict[str, Any]] | None:
        """Entries under a directory ('' for the root), or None when it is no directory."""
        prefix = f"{under.strip('/')}/" if under.strip("/") else ""
        below = [name[len(prefix):] for name in self.files if name.startswith(prefix)]
        if prefix and not below:
            return None
        names: set[str] = set()
        for rest in below:
            parts = rest.split("/")
            stop = len(parts) if recursive else 1
            names.update(prefix + "/".join(parts[: i + 1]) for i in range(stop))
        return [self.entry(name) for name in sorted(names)]

    def is_dir(self, name: str) -> bool:
        """Whether `name` is a directory of the repo."""
        return any(f.startswith(name.strip("/") + "/") for f in self.files)


class HubState:
    """The repos the server knows (read once per repo) and every request path it answered."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.repos: dict[tuple[str, str], RepoFiles | None] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def repo(self, kind: str, repo_id: str) -> RepoFiles | None:
        """The repo `repo_id` of kind `models` or `datasets`, or None when absent."""
        with self.lock:
            if (kind, repo_id) not in self.repos:
                folder = self.folder / kind / repo_id
                self.repos[(kind, repo_id)] = RepoFiles(folder) if folder.is_dir() and "/" in repo_id else None
            return self.repos[(kind, repo_id)]


def _moved(parts: list[str]) -> list[str]:
    """The path parts with a legacy model id (`gpt2`, no owner) replaced by the repo it moved to, as the Hub
    answers `/gpt2/resolve/...` and `/api/models/gpt2` from openai-community/gpt2."""
    from factory.hubsim.minimodels import LEGACY_IDS

    at = 2 if parts[:2] == ["api", "models"] else 0
    if len(parts) > at and parts[at] in LEGACY_IDS and (at or len(parts) < 2 or parts[1] == "resolve"):
        return parts[:at] + LEGACY_IDS[parts[at]].split("/") + parts[at + 1:]
    return parts


def _split_api(parts: list[str]) -> tuple[str, str, str, str, str] | None:
    """/api/{kind}/{org}/{name}[/{verb}/{rev}[/{path}]] -> (kind, repo_id, verb, rev, path)."""
    if len(parts) < 4 or parts[1] not in ("models", "datasets"):
        return None
    kind, repo_id, rest = parts[1], "/".join(parts[2:4]), parts[4:]
    verb = rest[0] if rest else ""
    rev = unquote(rest[1]) if len(rest) > 1 else "main"
    return kind, repo_id, verb, rev, unquote("/".join(rest[2:]))


class Handler(BaseHTTPRequestHandler):
    """Request handler; `state` is set on the subclass `HubSim` makes."""

    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        """Stay quiet (requests are recorded in `state.requests`)."""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode())

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), {"X-Error-Code": code, "X-Error-Message": message})

    def _repo(self, kind: str, repo_id: str, rev: str) -> RepoFiles | None:
        repo = self.state.repo(kind, repo_id)
        if repo is None:
            self._error(404 if kind == "datasets" else 401, "RepoNotFound", f"Repository not found: {repo_id}")
            return None
        if rev not in REVISIONS and rev != repo.commit:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return None
        return repo

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.state.requests.append(f"{self.command} {url.path}")
        parts = _moved([p for p in url.path.split("/") if p])
        if parts and parts[0] == "api":
            return self._api(parts[1:], parse_qs(url.query))
        kind = "models"
        if parts and parts[0] == "datasets":
            kind, parts = "datasets", parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(kind, "/".join(parts[:2]), unquote(parts[3]), unquote("/".join(parts[4:])))
        self._error(404, "NotFound", f"unknown endpoint {self.command} {url.path}")

    def _api(self, parts: list[str], query: dict[str, list[str]]) -> None:
        split = _split_api(["api", *parts])
        if split is None:
            return self._error(404, "NotFound", f"unknown API endpoint /api/{'/'.join(parts)}")
        kind, repo_id, verb, rev, path = split
        repo = self._repo(kind, repo_id, rev)
        if repo is None:
            return None
        if verb in ("", "revision"):
            return self._json(self._info(repo, repo_id))
        if verb == "tree":
            listing = repo.listing(path, query.get("recursive", ["false"])[0].lower() == "true")
            if listing is None:
                return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
            return self._json(listing)
        if verb == "paths-info":
            wanted = parse_qs(self._body().decode()).get("paths", [])
            return self._json([repo.entry(p) for p in wanted if p in repo.sha256 or repo.is_dir(p)])
        return self._error(404, "NotFound", f"unknown API verb {verb!r}")

    @staticmethod
    def _info(repo: RepoFiles, repo_id: str) -> dict[str, Any]:
        return {"id": repo_id, "_id": repo.commit[:24], "sha": repo.commit, "private": False, "gated": False,
                "disabled": False, "lastModified": DATE, "createdAt": DATE, "tags": [], "downloads": 0,
                "likes": 0, "siblings": [{"rfilename": name} for name in repo.files], "cardData": {}}

    def _resolve(self, kind: str, repo_id: str, rev: str, path: str) -> None:
        repo = self._repo(kind, repo_id, rev)
        if repo is None:
            return None
        if path not in repo.sha256:
            return self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
        data = (repo.folder / path).read_bytes()
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{repo.sha256[path]}"',
                   "X-Linked-Etag": f'"{repo.sha256[path]}"', "X-Linked-Size": str(len(data)),
                   "Accept-Ranges": "bytes", "Content-Length": str(len(data))}
        start, end, status = _byte_range(self.headers.get("Range"), len(data))
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            headers["Content-Length"] = str(end - start)
        self._send(status, data[start:end], headers, "application/octet-stream")

    do_GET = do_HEAD = do_POST = _dispatch


def _byte_range(header: str | None, size: int) -> tuple[int, int, int]:
    """(start, end, status) for a `Range: bytes=a-b` header (end exclusive)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return 0, size, 200
    first, _, last = header.removeprefix("bytes=").partition("-")
    if not first:
        return max(0, size - int(last)), size, 206
    return int(first), min(size, int(last) + 1) if last else size, 206


class HubSim:
    """A running miniature Hub on 127.0.0.1 (a context manager); `url` is its endpoint."""

    def __init__(self, folder: Path, port: int = 0):
        self.state = HubState(folder)
        handler = type("HubSimHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HubSim":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
