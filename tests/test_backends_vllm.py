"""The vllm and openai backends against real vLLM: the factory returns what the engine returns.

One in-process engine (offline backend) and one OpenAI server subprocess, each started
once for the module, on a tiny random GPT-2 with a chat template.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from backend_helpers import VllmServer, bare_chat_outputs, build_tiny_chat_lm, free_port
from factory.engines.ray_generate import reached_token_limit
from factory.models.backends import Request, open_backend, request_seed
from factory.models.backends.openai_client import OpenAIBackend
from factory.models.cache import CachedBackend
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate, Sampling, ServerSettings, VllmSettings

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
vllm = pytest.importorskip("vllm")

SAMPLING = Sampling(temperature=0.8, top_p=0.9, top_k=40, max_new_tokens=16, n=2, stop=["\n"])


def make_requests(n: int, base_seed: int = 11) -> list[Request]:
    """n few-shot chat requests with per-key seeds."""
    out = []
    for i in range(n):
        messages = ({"role": "system", "content": "rewrite the comment politely"},
                    {"role": "user", "content": "what a stupid idea"},
                    {"role": "assistant", "content": "what an odd idea"},
                    {"role": "user", "content": f"comment number {i} is garbage"})
        out.append(Request(key=f"row{i}", messages=messages, seed=request_seed(base_seed, f"row{i}")))
    return out


def bare_params(sampling: Sampling, seed: int) -> "vllm.SamplingParams":
    return vllm.SamplingParams(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                               top_k=sampling.top_k or -1, max_tokens=sampling.max_new_tokens, seed=seed,
                               stop=sampling.stop or None)


def texts(outputs) -> list[list[str]]:
    return [[c.text.strip() for c in sorted(o.outputs, key=lambda c: c.index)] for o in outputs]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_chat_lm(tmp_path_factory.mktemp("vllm") / "lm")


@pytest.fixture(scope="module")
def offline(tiny_lm):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # engine and worker in this process: one start
        settings = Generate(backend="vllm", vllm=VllmSettings(dtype="float32", max_model_len=1024, enforce_eager=True))
        backend = open_backend(settings, ModelSpec(ref=str(tiny_lm)), Path("."))
    yield backend
    del backend


@pytest.fixture(scope="module")
def server(tiny_lm, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    started = VllmServer(tiny_lm, free_port(), log).start()
    yield started
    started.stop()


def test_offline_equals_bare_chat_with_the_same_seeds(offline):
    requests = make_requests(12)
    factory = offline.generate(requests, SAMPLING)
    bare = offline.llm.chat([list(r.messages) for r in requests], [bare_params(SAMPLING, r.seed) for r in requests],
                            use_tqdm=False)
    assert factory == texts(bare)
    assert len({o for outs in factory for o in outs}) > 12, "seeded samples differ between requests"


def test_offline_truncated_is_finish_reason_length_and_rays_derivation_agrees(offline):
    """3 tokens and a frequent stop string: some completions hit the limit, some stop."""
    requests = make_requests(12)
    mixed = SAMPLING.model_copy(update={"max_new_tokens": 3, "stop": ["e"]})
    factory = offline.generate(requests, mixed)
    bare = offline.llm.chat([list(r.messages) for r in requests], [bare_params(mixed, r.seed) for r in requests],
                            use_tqdm=False)
    choices = [c for o in bare for c in sorted(o.outputs, key=lambda c: c.index)]
    length = [c.finish_reason == "length" for c in choices]
    assert [c.truncated for outs in factory for c in outs] == length
    assert any(length) and not all(length), "both finish reasons occur"
    tokenizer = offline.llm.get_tokenizer()
    derived = [reached_token_limit(list(c.token_ids), 3, ["e"], frozenset({tokenizer.eos_token_id}), tokenizer)
               for c in choices]
    assert derived == length, "Ray's vLLM stage derives the flag from the tokens as vLLM decides it"


def test_offline_greedy_equals_bare_generate_on_rendered_text(offline):
    requests = make_requests(6)
    greedy = SAMPLING.model_copy(update={"temperature": 0.0, "n": 1})
    tokenizer = offline.llm.get_tokenizer()
    prompts = [tokenizer.apply_chat_template(list(r.messages), add_generation_prompt=True, tokenize=False)
               for r in requests]
    bare = offline.llm.generate(prompts, vllm.SamplingParams(temperature=0.0, max_tokens=16, stop=["\n"]),
                                use_tqdm=False)
    assert offline.generate(requests, greedy) == texts(bare)


def test_offline_output_of_a_request_does_not_depend_on_its_batch(offline):
    requests = make_requests(10)
    whole = offline.generate(requests, SAMPLING)
    assert offline.generate(requests[::-1], SAMPLING)[::-1] == whole
    assert offline.generate(requests[3:5], SAMPLING) == whole[3:5]


def test_offline_seeded_batch_beyond_one_prefill_budget(offline):
    """Regression: on CPU, seeded requests after a chunked prefill crashed the engine."""
    long_text = " ".join(f"word{i}" for i in range(150))
    requests = [Request(key=f"long{i}", seed=i, messages=({"role": "user", "content": f"{i} {long_text}"},))
                for i in range(40)]
    assert sum(len(p["prompt_token_ids"]) for p in offline.prompts(requests)) > 16384
    short = SAMPLING.model_copy(update={"max_new_tokens": 4, "n": 1})
    whole = offline.generate(requests, short)
    assert whole[-5:] == offline.generate(requests[-5:], short)


def test_offline_through_the_cache_in_chunks(offline, tmp_path, monkeypatch):
    requests = make_requests(10)
    whole = offline.generate(requests, SAMPLING)
    monkeypatch.setattr(offline, "commit_every", 4)
    cached = CachedBackend(offline, tmp_path / "c.sqlite")
    assert cached.generate(requests, SAMPLING) == whole
    assert cached.generate(requests, SAMPLING) == whole
    assert cached.stats == {"hits": 10, "misses": 10} and len(cached.cache) == 10


def test_served_chat_equals_bare_requests(server, tiny_lm, tmp_path):
    requests = make_requests(8)
    backend = OpenAIBackend(ModelSpec(ref=str(tiny_lm)), tmp_path, ServerSettings(base_url=server.url, concurrency=4))
    assert backend.generate(requests, SAMPLING) == bare_chat_outputs(server.url, requests, SAMPLING)


def test_served_completion_equals_bare_completion(server, tiny_lm, tmp_path, offline):
    requests = make_requests(6)
    settings = ServerSettings(base_url=server.url, mode="completion", concurrency=4)
    factory = OpenAIBackend(ModelSpec(ref=str(tiny_lm)), tmp_path, settings).generate(requests, SAMPLING)
    tokenizer = offline.llm.get_tokenizer()
    bare = []
    for r in requests:
        prompt = tokenizer.apply_chat_template(list(r.messages), add_generation_prompt=True, tokenize=False)
        body = {"model": "tiny", "prompt": prompt, "temperature": 0.8, "top_p": 0.9, "top_k": 40, "max_tokens": 16,
                "n": 2, "seed": r.seed, "stop": ["\n"]}
        choices = httpx.post(f"{server.url}/completions", json=body, timeout=60).json()["choices"]
        bare.append([c["text"].strip() for c in sorted(choices, key=lambda c: c["index"])])
    assert factory == bare


def test_served_equals_offline_for_the_same_seeds(server, tiny_lm, tmp_path, offline):
    requests = make_requests(8)
    served = OpenAIBackend(ModelSpec(ref=str(tiny_lm)), tmp_path,
                           ServerSettings(base_url=server.url)).generate(requests, SAMPLING)
    assert served == offline.generate(requests, SAMPLING)
