"""Benchmark the generation backends against bare baselines measured in the same run.

- offline: the factory's `vllm` backend (chat rendering, per-request seeds, request cache,
  chunked commits) versus a bare `LLM.generate` on the same rendered prompts with the same
  per-request `SamplingParams`, on the same engine.
- served: the factory's `openai` backend at concurrency 16 (with its request cache) versus
  a bare `openai.AsyncOpenAI` client at concurrency 16, against the same `vllm serve`.
- hf: the `hf` backend batched (16 prompts per batch) versus one prompt at a time.

Each ratio is a throughput ratio (requests per second, higher is better for the factory;
goal >= 0.9 for the first two). Each side runs `--rounds` times, alternating, and the
best time counts. The model is `--model DIR` or, by default, a random GPT-2 built here.
The last line is JSON: offline_vs_bare, served_vs_bare, hf_batched_vs_single.

    VLLM_CPU_KVCACHE_SPACE=1 .venv/bin/python bench/generate.py [--requests 256] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from factory.models.backends import Request, open_backend, request_seed
from factory.models.backends.base import render_prompt
from factory.prompts import rewrite_messages
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate, Sampling, ServerSettings, VllmSettings

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if not loop.first %}{{ '\\n' }}{% endif %}"
    "{{ message['role'] + ': ' + message['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\nassistant:' }}{% endif %}"
)
SAMPLING = Sampling(temperature=0.8, top_p=0.9, max_new_tokens=64, stop=[])


def build_random_lm(folder: Path) -> Path:
    """A random 4-layer GPT-2 (d=256) with a small byte-level BPE tokenizer and a chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    texts = [m["content"] for m in rewrite_messages("detoxify", "what a stupid idea", [("you idiot", "you")])] * 50
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>", "<pad>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        pad_token="<pad>", model_max_length=1024)
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=256, n_layer=4, n_head=4,
                        bos_token_id=0, eos_token_id=0, pad_token_id=1)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_requests(n: int) -> list[Request]:
    """n detoxify requests with two few-shot examples each and per-key seeds."""
    shots = [("you are an idiot", "you are wrong"), ("shut up, moron", "please stop")]
    return [Request(key=f"r{i}", seed=request_seed(0, f"r{i}"),
                    messages=tuple(rewrite_messages("detoxify", f"comment {i}: this is damn stupid", shots)))
            for i in range(n)]


def best_of(rounds: int, **runs) -> dict[str, float]:
    """Run each named zero-argument function `rounds` times, alternating; best wall time each."""
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_offline(model: Path, requests: list[Request], rounds: int, work: Path) -> float:
    """Factory vllm backend (with cache) vs bare LLM.generate; returns the throughput ratio."""
    from vllm import SamplingParams

    settings = Generate(backend="vllm", sampling=SAMPLING, vllm=VllmSettings(dtype="float32", max_model_len=1024))
    backend = open_backend(settings, ModelSpec(ref=str(model)), work)
    llm, tokenizer = backend.llm, backend.tokenizer
    prompts = [render_prompt(tokenizer, r.messages) for r in requests]
    caches = iter(range(10_000))

    def bare() -> None:
        params = [SamplingParams(temperature=0.8, top_p=0.9, max_tokens=64, seed=r.seed) for r in requests]
        llm.generate(prompts, params, use_tqdm=False)

    def factory() -> None:
        from factory.models.cache import CachedBackend

        CachedBackend(backend, work / f"offline-{next(caches)}.sqlite").generate(requests, SAMPLING)

    llm.generate(prompts[:16], SamplingParams(max_tokens=8), use_tqdm=False)  # warm-up
    times = best_of(rounds, bare=bare, factory=factory)
    print(f"offline: bare {len(requests) / times['bare']:.1f} req/s, "
          f"factory {len(requests) / times['factory']:.1f} req/s")
    backend = llm = None  # free the engine before the next benchmark (closures above are done with it)
    gc.collect()
    return times["bare"] / times["factory"]


def start_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    """`vllm.entrypoints.openai.api_server` on 127.0.0.1:port; returns once /health answers."""
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--port", str(port),
           "--host", "127.0.0.1", "--dtype", "float32", "--max-model-len", "1024", "--served-model-name", "bench",
           "--no-enable-chunked-prefill"]  # seeded requests crash CPU vLLM after a chunked prefill
    env = dict(os.environ, VLLM_ENABLE_V1_MULTIPROCESSING="0", HF_HUB_OFFLINE="1")
    process = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"vLLM server exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.kill()
    raise SystemExit(f"vLLM server did not start; see {log}")


async def bare_client(url: str, requests: list[Request], concurrency: int) -> None:
    """The same chat requests through `openai.AsyncOpenAI`, at most `concurrency` in flight."""
    from openai import AsyncOpenAI

    gate = asyncio.Semaphore(concurrency)
    async with AsyncOpenAI(base_url=url, api_key="none", max_retries=0) as client:
        async def one(r: Request) -> str:
            async with gate:
                answer = await client.chat.completions.create(
                    model="bench", messages=list(r.messages), temperature=0.8, top_p=0.9, max_tokens=64, seed=r.seed)
                return answer.choices[0].message.content or ""

        await asyncio.gather(*(one(r) for r in requests))


def bench_served(model: Path, requests: list[Request], rounds: int, work: Path) -> float:
    """Factory openai backend (concurrency 16, with cache) vs a bare AsyncOpenAI client."""
    from factory.models.cache import CachedBackend

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = start_server(model, port, work / "server.log")
    url = f"http://127.0.0.1:{port}/v1"
    settings = Generate(backend="openai", sampling=SAMPLING, server=ServerSettings(base_url=url, concurrency=16))
    caches = iter(range(10_000))
    try:
        backend = open_backend(settings, ModelSpec(ref=str(model)), work)
        asyncio.run(bare_client(url, requests[:16], 16))  # warm-up
        times = best_of(rounds, bare=lambda: asyncio.run(bare_client(url, requests, 16)),
                        factory=lambda: CachedBackend(backend, work / f"served-{next(caches)}.sqlite").generate(
                            requests, SAMPLING))
    finally:
        process.terminate()
        process.wait(30)
    print(f"served: bare {len(requests) / times['bare']:.1f} req/s, "
          f"factory {len(requests) / times['factory']:.1f} req/s")
    return times["bare"] / times["factory"]


def bench_hf(model: Path, requests: list[Request], rounds: int, work: Path) -> float:
    """hf backend with batches of 16 vs batches of 1 (one prompt at a time)."""
    sampling = SAMPLING.model_copy(update={"max_new_tokens": 32})
    batched = open_backend(Generate(backend="hf", batch_size=16), ModelSpec(ref=str(model)), work)
    single = open_backend(Generate(backend="hf", batch_size=1), ModelSpec(ref=str(model)), work)
    times = best_of(rounds, single=lambda: single.generate(requests, sampling),
                    batched=lambda: batched.generate(requests, sampling))
    print(f"hf: one at a time {len(requests) / times['single']:.2f} req/s, "
          f"batched {len(requests) / times['batched']:.2f} req/s")
    return times["single"] / times["batched"]


def main() -> None:
    """Parse arguments, run the three comparisons, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model folder (default: a random GPT-2 built in a temp dir)")
    parser.add_argument("--requests", type=int, default=512, help="requests per vLLM run")
    parser.add_argument("--hf-requests", type=int, default=24, help="requests per hf run")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per side (best counts)")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model or build_random_lm(work / "lm")
        requests = make_requests(args.requests)
        hf = bench_hf(model, requests[: args.hf_requests], args.rounds, work)
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        offline = bench_offline(model, requests, args.rounds, work)
        served = bench_served(model, requests, args.rounds, work)
    print(json.dumps({"offline_vs_bare": round(offline, 3), "served_vs_bare": round(served, 3),
                      "hf_batched_vs_single": round(hf, 3)}))


if __name__ == "__main__":
    main()
