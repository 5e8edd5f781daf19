"""Benchmark: UniDetox contrastive decoding vs single-model `generate`, same batch, same run.

Contrastive decoding (`factory.models.contrastive`) runs two models per token (base and
toxic, each with its own KV cache), so the ideal throughput ratio against one model's
`transformers` sampling is 0.5; the goal is >= 0.4. Both sides decode the same batch of
BOS-only prompts for the same number of new tokens (no early EOS), on randomly initialised
GPT-2 models built from a config (no download): `gpt2-small` (124M parameters, the
headline) and `tiny` (the zoo's size). Each side is warmed up once, then the best of
`--repeats` interleaved runs counts.

Usage: .venv/bin/python bench/distill.py [--batch 16] [--new-tokens 64] [--repeats 2]
The last line is JSON with the key `contrastive_vs_single`.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from factory.models.contrastive import ContrastiveSettings, contrastive_generate

SIZES = {
    "gpt2-small": {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257},
    "tiny": {"n_embd": 128, "n_layer": 2, "n_head": 4, "vocab_size": 4096},
}


def build(size: str, seed: int) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 of the given size (token 0 is BOS)."""
    torch.manual_seed(seed)
    config = GPT2Config(n_positions=512, bos_token_id=0, eos_token_id=0, **SIZES[size])
    return GPT2LMHeadModel(config).eval()


def single_tokens_per_s(model: GPT2LMHeadModel, batch: int, new_tokens: int) -> float:
    """New tokens per second of plain sampling with one model."""
    prompt = torch.zeros((batch, 1), dtype=torch.long)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                             max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=0)
    elapsed = time.perf_counter() - start
    return (out.shape[1] - 1) * batch / elapsed


def contrastive_tokens_per_s(base: GPT2LMHeadModel, toxic: GPT2LMHeadModel, batch: int, new_tokens: int) -> float:
    """New tokens per second of contrastive decoding (both models, two KV caches)."""
    start = time.perf_counter()
    texts = contrastive_generate(base, toxic, bos_id=0, eos_id=None, num_texts=batch, max_length=new_tokens + 1,
                                 batch_size=batch, seed=0, settings=ContrastiveSettings(alpha=0.1))
    elapsed = time.perf_counter() - start
    return sum(len(t) for t in texts) / elapsed


def measure(size: str, batch: int, new_tokens: int, repeats: int) -> dict[str, float]:
    """Best-of-`repeats` tokens/s of both decoders for one model size, after a warm-up each."""
    base, toxic = build(size, 0), build(size, 1)
    single_tokens_per_s(base, batch, 4)
    contrastive_tokens_per_s(base, toxic, batch, 4)
    single = contrastive = 0.0
    for _ in range(repeats):  # interleaved, so a busy spell of the machine hits both sides
        single = max(single, single_tokens_per_s(base, batch, new_tokens))
        contrastive = max(contrastive, contrastive_tokens_per_s(base, toxic, batch, new_tokens))
    return {"single_tokens_per_s": round(single, 2), "contrastive_tokens_per_s": round(contrastive, 2),
            "ratio": round(contrastive / single, 3)}


def main() -> None:
    """Run the benchmark and print one line per size, then the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = {}
    for size in SIZES:
        results[size] = measure(size, args.batch, args.new_tokens, args.repeats)
        print(f"{size}: {results[size]}", flush=True)
    print(json.dumps({"contrastive_vs_single": results["gpt2-small"]["ratio"], "batch": args.batch,
                      "new_tokens": args.new_tokens, "torch_threads": torch.get_num_threads(), "sizes": results}))


if __name__ == "__main__":
    main()
