"""Continuations of the evaluation prompts, and perplexity of texts under a causal LM.

Sampling follows `scripts/3_finetune_aya_8b_xx_yy.py` of the reference: prompts truncated to
256 tokens, `max_new_tokens` new tokens sampled with temperature and top-p; only the new
tokens are decoded. Perplexity follows `scripts/5_perplexity_scores_aya_8b_23b.py`: exp of
the mean next-token cross-entropy of one text (truncated to `max_length` tokens); a text with
fewer than two tokens has none (None), and the caller counts it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

PROMPT_TOKENS = 256
"""Prompts are truncated to this many tokens (reference)."""


def continuations(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, temperature: float,
                  top_p: float, batch_size: int, seed: int, seq2seq: bool = False) -> list[str]:
    """One sampled continuation per prompt (new tokens only, special tokens skipped, stripped)."""
    import torch

    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    texts = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(list(prompts[start:start + batch_size]), return_tensors="pt", padding=True,
                          truncation=True, max_length=PROMPT_TOKENS).to(device)
        with torch.no_grad():
            output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                                    top_p=top_p, pad_token_id=tokenizer.pad_token_id)
        new = output if seq2seq else output[:, batch["input_ids"].shape[1]:]
        texts += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    return texts


def perplexities(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int = 1024) -> list[float | None]:
    """Perplexity of each text on its own; None for a text of fewer than two tokens."""
    import torch

    device = next(model.parameters()).device
    scores: list[float | None] = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"].to(device)
        if ids.shape[1] < 2:
            scores.append(None)
            continue
        with torch.no_grad():
            loss = model(ids, labels=ids).loss
        value = math.exp(float(loss))
        scores.append(value if math.isfinite(value) else None)
    return scores
