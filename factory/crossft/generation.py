"""Continuations of the evaluation prompts, and perplexity of texts under a causal LM.

Decoding follows the reference: prompts truncated to 256 tokens, `max_new_tokens` new tokens
sampled with temperature and top-p (`scripts/3_finetune_aya_8b_xx_yy.py`), greedy
(`scripts/10_DPO_aya_8.py`) or 4-beam sampling (`scripts/3_finetune_mt5_xx_yy.py`); only the new
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
                  top_p: float, batch_size: int, seed: int, seq2seq: bool = False, do_sample: bool = True,
                  num_beams: int = 1) -> list[str]:
    """One continuation per prompt (new tokens only, special tokens skipped, stripped): sampled with temperature
    and top-p when `do_sample`, else greedy (or beam search with `num_beams` > 1). A seq2seq output that repeats
    its prompt loses it, as the reference's mT5 evaluation does."""
    import torch

    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    decoding: dict[str, Any] = {"do_sample": do_sample, "num_beams": num_beams}
    if do_sample:
        decoding.update(temperature=temperature, top_p=top_p)
    texts = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start:start + batch_size])
        batch = tokenizer(chunk, return_tensors="pt", padding=True, truncation=True,
                          max_length=PROMPT_TOKENS).to(device)
        with torch.no_grad():
            output = model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                    **decoding)
        new = output if seq2seq else output[:, batch["input_ids"].shape[1]:]
        decoded = [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
        texts += [_without_prompt(t, p) if seq2seq else t for t, p in zip(decoded, chunk)]
    return texts


def _without_prompt(text: str, prompt: str) -> str:
    return text[len(prompt):].strip() if text.startswith(prompt) else text


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
