"""The openai backend under faults: retries, timeouts, dropped connections, restarts, a dead server.

Fast tests put the fault proxy in front of a fake OpenAI server (fakes only inject
faults); the `vllm` tests put it in front of a real vLLM server started once for the module
and compare every output with a bare request to that server.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from backend_helpers import VllmServer, bare_chat_outputs, build_tiny_chat_lm, free_port
from fault_proxy import FAKE_TEXT_TOKENS, FakeOpenAIServer, FaultProxy, fake_text
from factory.core.errors import FactoryError
from factory.models.backends import Request, request_seed
from factory.models.backends.openai_client import OpenAIBackend
from factory.models.cache import CachedBackend
from factory.prompts import messages_to_text
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling, ServerSettings

SAMPLING = Sampling(temperature=0.8, top_p=0.9, max_new_tokens=12, n=2, stop=["\n"])
FAST = (0.01, 0.05)


def make_requests(n: int) -> list[Request]:
    """n chat requests with per-key seeds."""
    return [Request(key=f"k{i}", seed=request_seed(3, f"k{i}"),
                    messages=({"role": "system", "content": "be polite"},
                              {"role": "user", "content": f"text number {i}"}))
            for i in range(n)]


def client(url: str, root: Path, model: str = "fake", backoff=FAST, **server) -> OpenAIBackend:
    settings = ServerSettings(base_url=url, **{"concurrency": 4, "timeout_s": 1.0, "max_retries": 4, **server})
    return OpenAIBackend(ModelSpec(ref=model), root, settings, backoff=backoff)


def expected_fake(requests: list[Request], n: int = SAMPLING.n) -> list[list[str]]:
    return [[fake_text([dict(m) for m in r.messages], r.seed, i) for i in range(n)] for r in requests]


@pytest.fixture
def fake():
    server = FakeOpenAIServer(free_port(), delay_s=0.01).start()
    yield server
    server.stop()


def test_scheduled_faults_are_retried_and_nothing_is_lost(fake, tmp_path):
    faults = {1: "500", 2: "timeout", 4: "drop", 6: "429", 7: "500", 9: "timeout", 12: "drop", 14: "abort"}
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), faults, slow_s=2.0).start()
    try:
        requests = make_requests(30)
        backend = CachedBackend(client(proxy.url, tmp_path, model="org/any-model"), tmp_path / "c.sqlite")
        assert backend.generate(requests, SAMPLING) == expected_fake(requests)
    finally:
        proxy.stop()
    assert sorted(proxy.injected) == sorted(faults.values())
    assert len(backend.cache) == 30
    assert {b["model"] for b in fake.bodies} == {"fake"}, "the only served model is used"


def test_request_bodies_carry_seed_sampling_and_key(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_API_KEY", "sk-test-secret")
    requests = make_requests(5)
    sampling = SAMPLING.model_copy(update={"top_k": 20})
    client(fake.url, tmp_path, api_key_env="TEST_OPENAI_API_KEY").generate(requests, sampling)
    by_seed = {b["seed"]: b for b in fake.bodies}
    assert sorted(by_seed) == sorted(r.seed for r in requests)
    body = by_seed[requests[0].seed]
    assert body["messages"] == [dict(m) for m in requests[0].messages]
    assert (body["temperature"], body["top_p"], body["top_k"], body["max_tokens"], body["n"], body["stop"]) == (
        0.8, 0.9, 20, 12, 2, ["\n"])
    assert {h["Authorization"] for h in fake.headers} == {"Bearer sk-test-secret"}
    fake.bodies.clear()
    client(fake.url, tmp_path).generate(requests[:1], SAMPLING)
    assert "top_k" not in fake.bodies[0]


def test_completion_mode_renders_with_the_model_template(fake, tmp_path):
    lm = build_tiny_chat_lm(tmp_path / "lm")
    requests = make_requests(3)
    outputs = client(fake.url, tmp_path, model=str(lm), mode="completion").generate(requests, SAMPLING)
    prompts = [messages_to_text(r.messages) for r in requests]
    assert sorted(b["prompt"] for b in fake.bodies) == sorted(prompts)
    assert all(b["add_special_tokens"] is False for b in fake.bodies)
    assert outputs == [[fake_text(p, r.seed, i) for i in range(2)] for p, r in zip(prompts, requests)]


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_finish_reason_length_marks_a_completion_truncated_and_the_cache_keeps_it(fake, tmp_path, mode):
    requests = make_requests(4)
    model = str(build_tiny_chat_lm(tmp_path / "lm")) if mode == "completion" else "fake"
    backend = CachedBackend(client(fake.url, tmp_path, model=model, mode=mode), tmp_path / "c.sqlite")
    short = SAMPLING.model_copy(update={"max_new_tokens": FAKE_TEXT_TOKENS - 1})
    for sampling, truncated in ((short, True), (SAMPLING, False)):
        outputs = backend.generate(requests, sampling)
        assert [[c.truncated for c in outs] for outs in outputs] == [[truncated] * SAMPLING.n] * len(requests)
        assert all(c.startswith("fake ") for outs in outputs for c in outs), "the text is the choice's text"
        posts = len(fake.bodies)
        again = backend.generate(requests, sampling)
        assert len(fake.bodies) == posts, "answered from the cache"
        assert [[c.truncated for c in outs] for outs in again] == [[truncated] * SAMPLING.n] * len(requests)
    assert {b["max_tokens"] for b in fake.bodies} == {FAKE_TEXT_TOKENS - 1, SAMPLING.max_new_tokens}


def test_no_server_stops_with_url_and_last_error_but_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_API_KEY", "sk-test-secret")
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(FactoryError) as error:
        client(url, tmp_path, max_retries=2, api_key_env="TEST_OPENAI_API_KEY").generate(make_requests(2), SAMPLING)
    message = str(error.value)
    assert f"{url}/models" in message and "after 3 attempts" in message and "ConnectError" in message
    assert "sk-test-secret" not in message


def test_refused_request_is_not_retried_and_the_key_is_masked(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_API_KEY", "sk-test-secret")
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "400"}).start()
    try:
        with pytest.raises(FactoryError) as error:
            backend = client(proxy.url, tmp_path, concurrency=1, api_key_env="TEST_OPENAI_API_KEY")
            backend.generate(make_requests(3), SAMPLING)
    finally:
        proxy.stop()
    assert "HTTP 400" in str(error.value) and "Bearer ***" in str(error.value)
    assert "sk-test-secret" not in str(error.value)
    assert proxy.posts == 1


def test_exhausted_retries_on_5xx_name_the_status(fake, tmp_path):
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "500", 2: "500", 3: "500"}).start()
    try:
        with pytest.raises(FactoryError, match=r"chat/completions failed after 3 attempts .*HTTP 500"):
            client(proxy.url, tmp_path, concurrency=1, max_retries=2).generate(make_requests(1), SAMPLING)
    finally:
        proxy.stop()


def test_408_and_unusable_answers_are_retried_within_one_budget(fake, tmp_path):
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "408", 2: "garbage", 3: "abort"}).start()
    try:
        requests = make_requests(1)
        outputs = client(proxy.url, tmp_path, concurrency=1, max_retries=3).generate(requests, SAMPLING)
    finally:
        proxy.stop()
    assert outputs == expected_fake(requests) and proxy.posts == 4
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "408", 2: "abort", 3: "500"}).start()
    try:
        with pytest.raises(FactoryError, match=r"chat/completions failed after 3 attempts .*HTTP 500"):
            client(proxy.url, tmp_path, concurrency=1, max_retries=2).generate(make_requests(1), SAMPLING)
    finally:
        proxy.stop()
    assert proxy.posts == 3, "an aborted answer spends the same budget as an HTTP retry"


def test_rejected_key_names_its_variable_and_is_masked(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_API_KEY", "sk-test-secret")
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "401"}).start()
    try:
        with pytest.raises(FactoryError) as error:
            backend = client(proxy.url, tmp_path, concurrency=1, api_key_env="TEST_OPENAI_API_KEY")
            backend.generate(make_requests(1), SAMPLING)
    finally:
        proxy.stop()
    message = str(error.value)
    assert "refused with HTTP 401" in message and "$TEST_OPENAI_API_KEY" in message and "Bearer ***" in message
    assert "sk-test-secret" not in message and proxy.posts == 1


def test_without_its_key_variable_the_placeholder_is_sent_never_openai_api_key(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-this-server")
    monkeypatch.delenv("TEST_OPENAI_API_KEY", raising=False)
    client(fake.url, tmp_path, api_key_env="TEST_OPENAI_API_KEY").generate(make_requests(2), SAMPLING)
    assert {h.get("Authorization") for h in fake.headers} == {"Bearer EMPTY"}


def test_missing_openai_package_is_a_factory_error(fake, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(FactoryError, match=r"openai needs the `openai` package"):
        client(fake.url, tmp_path).generate(make_requests(1), SAMPLING)


def test_ray_lists_served_models_with_retries_and_the_same_key(fake, tmp_path, monkeypatch):
    from factory.engines.ray_generate import served_model

    monkeypatch.setenv("TEST_OPENAI_API_KEY", "sk-test-secret")
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "500", 2: "drop"}, methods=("GET",)).start()
    settings = ServerSettings(base_url=proxy.url, api_key_env="TEST_OPENAI_API_KEY", max_retries=2, timeout_s=5.0)
    try:
        assert served_model(settings, ModelSpec(ref="org/any"), tmp_path) == "fake"
    finally:
        proxy.stop()
    assert proxy.posts == 3 and {h.get("Authorization") for h in fake.headers} == {"Bearer sk-test-secret"}
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port(), {1: "401"}, methods=("GET",)).start()
    try:
        with pytest.raises(FactoryError, match=r"cannot list the models of .*HTTP 401.*Bearer \*\*\*"):
            served_model(settings.model_copy(update={"base_url": proxy.url}), ModelSpec(ref="org/any"), tmp_path)
    finally:
        proxy.stop()


def _run_in_thread(backend, requests, sampling) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["outputs"] = backend.generate(requests, sampling)
        except Exception as error:  # the test inspects it
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_for(condition, what: str, thread: threading.Thread, outcome: dict, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert thread.is_alive(), f"the run ended before {what}: {outcome}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_fake_server_gone_mid_run_keeps_finished_requests(fake, tmp_path):
    proxy = FaultProxy(f"http://127.0.0.1:{fake.port}", free_port()).start()
    requests = make_requests(200)
    backend = CachedBackend(client(proxy.url, tmp_path, concurrency=2, max_retries=3), tmp_path / "c.sqlite")
    try:
        thread, outcome = _run_in_thread(backend, requests, SAMPLING)
        _wait_for(lambda: len(fake.bodies) >= 10, "10 answers", thread, outcome)
        fake.stop()
        thread.join()
    finally:
        proxy.stop()
    assert isinstance(outcome.get("error"), FactoryError)
    assert proxy.url in str(outcome["error"]) and "HTTP 502" in str(outcome["error"])
    hashes = _hashes(backend, requests)
    stored = backend.cache.get_many(hashes)
    expected = dict(zip(hashes, expected_fake(requests)))
    assert 10 <= len(stored) < 200 and len(stored) == len(backend.cache)
    assert all(stored[h] == expected[h] for h in stored)


def _hashes(backend: CachedBackend, requests: list[Request]) -> list[str]:
    from factory.models.cache import request_hash

    return [request_hash(backend.identity, r, SAMPLING) for r in requests]


# --- the real vLLM server behind the proxy --------------------------------------------


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    pytest.importorskip("vllm")
    folder = tmp_path_factory.mktemp("served")
    server = VllmServer(build_tiny_chat_lm(folder / "lm"), free_port(), folder / "server.log").start()
    yield server
    server.stop()


def bare_outputs(server: VllmServer, requests: list[Request], sampling: Sampling) -> list[list[str]]:
    return bare_chat_outputs(server.url, requests, sampling)


def _real_client(proxy: FaultProxy, root: Path, **server) -> OpenAIBackend:
    return client(proxy.url, root, model="tiny", backoff=(0.2, 2.0), **{"timeout_s": 5.0, "max_retries": 8, **server})


@pytest.mark.vllm
@pytest.mark.slow
def test_real_server_faults_lose_nothing(real_server, tmp_path):
    requests = make_requests(24)
    faults = {2: "500", 4: "timeout", 6: "drop", 8: "429", 11: "drop"}
    proxy = FaultProxy(f"http://127.0.0.1:{real_server.port}", free_port(), faults, slow_s=8.0).start()
    try:
        backend = CachedBackend(_real_client(proxy, tmp_path), tmp_path / "c.sqlite")
        outputs = backend.generate(requests, SAMPLING)
    finally:
        proxy.stop()
    assert sorted(proxy.injected) == sorted(faults.values())
    assert outputs == bare_outputs(real_server, requests, SAMPLING)
    assert len(backend.cache) == 24


@pytest.mark.vllm
@pytest.mark.slow
def test_real_server_restart_mid_run_completes(real_server, tmp_path):
    requests = make_requests(24)
    proxy = FaultProxy(f"http://127.0.0.1:{real_server.port}", free_port()).start()
    try:
        backend = CachedBackend(_real_client(proxy, tmp_path, max_retries=200), tmp_path / "c.sqlite")
        thread, outcome = _run_in_thread(backend, requests, SAMPLING)
        _wait_for(lambda: proxy.forwarded_ok >= 6, "6 answers through the proxy", thread, outcome)
        real_server.stop()
        real_server.start()
        thread.join()
    finally:
        proxy.stop()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["outputs"] == bare_outputs(real_server, requests, SAMPLING)
    assert len(backend.cache) == 24


@pytest.mark.vllm
@pytest.mark.slow
def test_real_server_gone_for_good_keeps_finished_requests(real_server, tmp_path):
    requests = make_requests(200)
    reference = bare_outputs(real_server, requests[:16], SAMPLING)
    proxy = FaultProxy(f"http://127.0.0.1:{real_server.port}", free_port()).start()
    try:
        backend = CachedBackend(_real_client(proxy, tmp_path, max_retries=3, concurrency=2), tmp_path / "c.sqlite")
        thread, outcome = _run_in_thread(backend, requests, SAMPLING)
        _wait_for(lambda: proxy.forwarded_ok >= 4, "4 answers through the proxy", thread, outcome)
        real_server.stop()
        thread.join()
    finally:
        proxy.stop()
    assert isinstance(outcome.get("error"), FactoryError), outcome
    assert f"{proxy.url}/chat/completions failed after 4 attempts" in str(outcome["error"])
    hashes = _hashes(backend, requests)
    stored = backend.cache.get_many(hashes)
    assert 4 <= len(stored) < 16 and len(stored) == len(backend.cache)
    expected = dict(zip(hashes[:16], reference))
    assert all(h in expected and stored[h] == expected[h] for h in stored)
