"""The durable request cache: keys, partial reruns, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend_helpers import build_tiny_chat_lm
from cache_worker import SAMPLING, make_requests
from factory.models.backends import Completion, Request, open_backend
from factory.models.cache import CachedBackend, RequestCache, cache_identity, request_hash
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate, Sampling

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_chat_lm(tmp_path_factory.mktemp("tiny") / "lm")


@pytest.fixture(scope="module")
def hf(tiny_lm):
    return open_backend(Generate(backend="hf", batch_size=4), ModelSpec(ref=str(tiny_lm)), Path("."))


def test_request_hash_covers_what_changes_outputs():
    identity = {"backend": "hf", "model": {"ref": "m"}, "batch_size": 4}
    request = make_requests(1)[0]
    base = request_hash(identity, request, SAMPLING)
    assert base == request_hash(identity, Request(key="other-key", messages=request.messages, seed=request.seed),
                                SAMPLING)
    changed = [
        request_hash({**identity, "batch_size": 8}, request, SAMPLING),
        request_hash(identity, Request(request.key, request.messages[:1], request.seed), SAMPLING),
        request_hash(identity, Request(request.key, request.messages, request.seed + 1), SAMPLING),
        request_hash(identity, request, SAMPLING.model_copy(update={"temperature": 0.5})),
        request_hash(identity, request, SAMPLING.model_copy(update={"stop": ["."]})),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_rerun_sends_only_missing_or_changed_requests(hf, tmp_path):
    cache = tmp_path / "requests.sqlite"
    requests = make_requests(12)
    plain = hf.generate(requests, SAMPLING)

    first = CachedBackend(hf, cache)
    assert first.generate(requests[:8], SAMPLING) == plain[:8]
    assert first.stats == {"hits": 0, "misses": 8}

    again = CachedBackend(hf, cache)
    assert again.generate(requests, SAMPLING) == plain
    assert again.stats == {"hits": 8, "misses": 4}

    edited = list(requests)
    edited[3] = Request(key=requests[3].key, messages=requests[3].messages[:1] + ({"role": "user", "content": "new"},),
                        seed=requests[3].seed)
    rerun = again.generate(edited, SAMPLING)
    assert rerun[:3] == plain[:3] and rerun[4:] == plain[4:] and rerun[3] != plain[3]
    assert again.stats == {"hits": 8 + 11, "misses": 4 + 1}

    longer = SAMPLING.model_copy(update={"max_new_tokens": 12})
    again.generate(requests, longer)
    assert again.stats["misses"] == 4 + 1 + 12
    assert again.generate(requests, SAMPLING) == plain
    assert len(again.cache) == 12 + 1 + 12


def test_cached_backend_returns_input_order_with_duplicates(hf, tmp_path):
    requests = make_requests(6)
    order = (5, 0, 3, 3, 1, 4, 2)
    cached = CachedBackend(hf, tmp_path / "c.sqlite")
    first = cached.generate([requests[i] for i in order], SAMPLING)
    assert cached.stats == {"hits": 0, "misses": 6}
    assert first[2] == first[3] and len({tuple(o) for o in first}) == 6
    assert cached.generate(requests, SAMPLING) == [first[order.index(i)] for i in range(6)]
    assert cached.stats == {"hits": 6, "misses": 6}


def test_truncated_flags_survive_the_cache_and_old_rows_still_load(hf, tmp_path):
    path = tmp_path / "c.sqlite"
    cache = RequestCache(path)
    cache.put_many([("h1", "k1", [Completion("cut off mid", truncated=True), Completion("ended.", truncated=False)]),
                    ("h2", "k2", ["plain str"])])
    with sqlite3.connect(path) as db:  # a row as the cache wrote it before it stored the flag
        db.execute("INSERT INTO results VALUES (?, ?, ?, ?)", ("h3", "k3", json.dumps(["old a", "old b"]), 0.0))
    found = RequestCache(path).get_many(["h1", "h2", "h3", "absent"])
    assert set(found) == {"h1", "h2", "h3"}
    assert [(str(c), c.truncated) for c in found["h1"]] == [("cut off mid", True), ("ended.", False)]
    assert [(str(c), c.truncated) for c in found["h2"]] == [("plain str", False)]
    assert [(str(c), c.truncated) for c in found["h3"]] == [("old a", False), ("old b", False)]

    pinned = request_hash({"backend": "hf", "model": {"ref": "m"}},
                          Request("k", ({"role": "user", "content": "hi"},), 7), Sampling())
    assert pinned == "04342deb4aea8206f718bc636df6c21fd97162310f73ad385541a5c1b138cb16", (
        "cache keys changed: old caches miss")
    request = make_requests(1)[0]  # an old-format row under today's key is a hit
    old = CachedBackend(hf, path)
    key = request_hash(cache_identity(hf.describe()), request, SAMPLING)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO results VALUES (?, ?, ?, ?)",
                   (key, request.key, json.dumps(["from the old cache"]), 0.0))
    assert old.generate([request], SAMPLING) == [["from the old cache"]]
    assert old.stats == {"hits": 1, "misses": 0}


def _rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _worker(tiny_lm: Path, cache: Path, out: Path, n: int, pace: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{HERE}")
    return subprocess.Popen([sys.executable, str(HERE / "cache_worker.py"), str(tiny_lm), str(cache), str(out), str(n),
                             str(pace)],
                            stdout=subprocess.PIPE, text=True, env=env)


def _kill_when(process: subprocess.Popen, ready: bool, cache: Path, at_least: int) -> int:
    """SIGKILL the worker once it printed `ready` (and the cache holds `at_least` rows); return the rows then."""
    assert process.stdout.readline().strip() == "ready"
    while ready and _rows(cache) < at_least:
        assert process.poll() is None, "the worker finished before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return _rows(cache)


@pytest.mark.slow
def test_sigkill_at_three_points_then_resume_gives_the_uninterrupted_rows(tiny_lm, hf, tmp_path):
    n = 40
    requests = make_requests(n)
    reference = [[r.key, o] for r, o in zip(requests, hf.generate(requests, SAMPLING))]

    cache, out = tmp_path / "run.sqlite", tmp_path / "run.json"
    counts = [
        _kill_when(_worker(tiny_lm, cache, out, n, 0.3), False, cache, 0),
        _kill_when(_worker(tiny_lm, cache, out, n, 0.3), True, cache, 8),
        _kill_when(_worker(tiny_lm, cache, out, n, 0.3), True, cache, 28),
    ]
    assert counts[0] == 0 and 8 <= counts[1] < counts[2] < n
    assert all(c % 4 == 0 for c in counts), "whole batches are committed, nothing partial"
    assert not out.exists()

    final = _worker(tiny_lm, cache, out, n, 0.0)
    stats = json.loads(final.communicate()[0].splitlines()[-1])
    assert stats == {"hits": counts[2], "misses": n - counts[2]}
    rows = json.loads(out.read_text())
    assert rows == reference
    assert [key for key, _ in rows] == [r.key for r in requests]
    assert _rows(cache) == n
