"""Load a tiny zoo causal LM with vLLM (CPU), chat once and generate once; print JSON.

Usage: VLLM_CPU_KVCACHE_SPACE=1 python tests/zoo_vllm_check.py ZOO/causal-lm
Run by tests/test_zoo.py (marked vllm + slow) and by hand; the result is the stdout line
starting with RESULT_PREFIX.
"""

from __future__ import annotations

import json
import os
import sys

RESULT_PREFIX = "ZOO_VLLM_CHECK "
"""Marks the result line; vLLM writes its own log lines to stdout too."""


def check(path: str) -> dict:
    """Start one engine on `path`, run a chat request and a plain generate request."""
    from vllm import LLM, SamplingParams

    from factory.prompts import rewrite_messages

    llm = LLM(model=path, dtype="float32", max_model_len=512, enforce_eager=True, seed=0)
    params = SamplingParams(max_tokens=24, temperature=0.0)
    chat = llm.chat(rewrite_messages("detoxify", "this game is garbage"), params)[0]
    plain = llm.generate(["<|endoftext|>The"], SamplingParams(max_tokens=24, temperature=0.8, top_p=0.9, seed=0))[0]
    return {
        "chat_prompt": chat.prompt,
        "chat_text": chat.outputs[0].text,
        "chat_tokens": len(chat.outputs[0].token_ids),
        "chat_finish": chat.outputs[0].finish_reason,
        "generate_text": plain.outputs[0].text,
        "generate_tokens": len(plain.outputs[0].token_ids),
    }


if __name__ == "__main__":
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(RESULT_PREFIX + json.dumps(check(sys.argv[1])), flush=True)
