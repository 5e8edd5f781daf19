"""Test helpers for the generation backends: a tiny chat LM and a real vLLM server process.

The tiny LM is a randomly initialised 2-layer GPT-2 with a byte-level BPE tokenizer trained
on a few sentences and a chat template that renders like `factory.prompts.messages_to_text`.
Its text is noise, which is what seeded-sampling comparisons need: every seed gives a
different, reproducible output. `build_answering_lm` trains one further until it answers
every chat prompt with one fixed sentence and EOS, for tests that need a real end of text.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if not loop.first %}{{ '\\n' }}{% endif %}"
    "{{ message['role'] + ': ' + message['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\nassistant:' }}{% endif %}"
)

SENTENCES = [
    "you are a helpful assistant that rewrites comments.",
    "this is a perfectly polite sentence about the weather.",
    "the meeting was moved to thursday afternoon, sorry for that.",
    "please rewrite the following text and keep its meaning.",
    "what a stupid idea, nobody will ever read this garbage.",
    "system: user: assistant: rewrite rude polite comment",
] * 20


def build_tiny_chat_lm(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random GPT-2 with a BPE tokenizer and a chat template into `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(SENTENCES, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        pad_token="<pad>", model_max_length=1024)
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=0, eos_token_id=0, pad_token_id=1)
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_answering_lm(folder: Path, prompts: list[list[dict[str, str]]], answer: str, steps: int = 60) -> Path:
    """The tiny chat LM trained (seconds) to answer each of `prompts` - and, as it
    generalises, other chat prompts - with `answer` followed by EOS, under greedy decoding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_tiny_chat_lm(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) + answer + tokenizer.eos_token
             for m in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(folder)
    return folder


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vllm_env() -> dict[str, str]:
    """Environment for a CPU vLLM process: small KV cache, offline Hub, no telemetry."""
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1", VLLM_NO_USAGE_STATS="1",
               VLLM_ENABLE_V1_MULTIPROCESSING="0", TOKENIZERS_PARALLELISM="false")
    return env


class VllmServer:
    """A real `vllm.entrypoints.openai.api_server` subprocess on 127.0.0.1:port."""

    def __init__(self, model_dir: Path, port: int, log: Path, extra_args: tuple[str, ...] = ("--enforce-eager",)):
        self.model_dir, self.port, self.log, self.extra_args = model_dir, port, log, extra_args
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the OpenAI API, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 300.0) -> "VllmServer":
        """Start the server and wait until /health answers 200."""
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--max-model-len", "1024",
               "--dtype", "float32", "--served-model-name", "tiny",
               "--no-enable-chunked-prefill", *self.extra_args]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=vllm_env())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"vLLM server did not become healthy in {timeout_s} s; see {self.log}")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 20 s) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bare_chat_outputs(url: str, requests, sampling, model: str = "tiny") -> list[list[str]]:
    """What an OpenAI-compatible server answers to one plain chat request per input, same seed."""
    out = []
    for r in requests:
        body = {"model": model, "messages": [dict(m) for m in r.messages], "temperature": sampling.temperature,
                "top_p": sampling.top_p, "max_tokens": sampling.max_new_tokens, "n": sampling.n,
                "seed": r.seed, "stop": sampling.stop, **({"top_k": sampling.top_k} if sampling.top_k else {})}
        choices = httpx.post(f"{url}/chat/completions", json=body, timeout=60).json()["choices"]
        out.append([c["message"]["content"].strip() for c in sorted(choices, key=lambda c: c["index"])])
    return out
