"""Contrastive decoding of UniDetox: sample from softmax(log p_base - log p_toxic).

At every step both models score the next token; only tokens with
p_base >= alpha * max p_base stay candidates (the adaptive plausibility mask), the others
get score -inf; an optional top-k and/or top-p cut applies to the contrastive
distribution; one token is sampled per sequence.

- Two models, two KV caches: each model keeps its own `past_key_values` (the reference
  code passed the base model's cache to the toxic model, mixing the two).
- Batched, with per-sequence randomness: sequence i draws its uniforms from its own
  generator seeded by (seed, i) and samples by inverse CDF in float64, so its text does
  not depend on the batch it ran in.
- transformers only: both models' logits are needed at every step, which neither vLLM's
  engine nor an OpenAI-style server exposes (they return sampled tokens and at most
  top-k logprobs of one model).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch


@dataclass(frozen=True)
class ContrastiveSettings:
    """alpha: plausibility cut; top_k (0 = off) and top_p (1 = off): extra cuts on the scores."""

    alpha: float = 0.1
    top_k: int = 0
    top_p: float = 1.0


def contrastive_scores(base_logits: torch.Tensor, toxic_logits: torch.Tensor, alpha: float) -> torch.Tensor:
    """log p_base - log p_toxic (float64) where p_base >= alpha * max p_base, else -inf."""
    base = base_logits.double().log_softmax(-1)
    toxic = toxic_logits.double().log_softmax(-1)
    plausible = base >= math.log(alpha) + base.max(dim=-1, keepdim=True).values
    return (base - toxic).masked_fill(~plausible, -math.inf)


def cut_top_k_top_p(scores: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set scores outside the top-k and outside the smallest top-p mass to -inf (0 / 1 = off)."""
    if top_k and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if top_p < 1.0:
        ordered, order = scores.sort(dim=-1, descending=True)
        before = ordered.softmax(-1).cumsum(-1) - ordered.softmax(-1)
        drop = torch.zeros_like(scores, dtype=torch.bool).scatter(-1, order, before >= top_p)
        scores = scores.masked_fill(drop, -math.inf)
    return scores


def next_token_probs(base_logits: torch.Tensor, toxic_logits: torch.Tensor,
                     settings: ContrastiveSettings) -> torch.Tensor:
    """The distribution one decoding step samples from (float64, rows sum to 1)."""
    scores = contrastive_scores(base_logits, toxic_logits, settings.alpha)
    return cut_top_k_top_p(scores, settings.top_k, settings.top_p).softmax(-1)


def sample_inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Token per row: the first index whose cumulative probability exceeds u * total."""
    cdf = probs.cumsum(-1)
    targets = (uniforms.double() * cdf[:, -1]).unsqueeze(-1)
    return torch.searchsorted(cdf, targets, right=True).squeeze(-1).clamp_(max=probs.shape[-1] - 1)


def sequence_seed(seed: int, index: int) -> int:
    """The seed of sequence `index`'s own random stream."""
    return int.from_bytes(hashlib.sha256(f"distill:{seed}:{index}".encode()).digest()[:8], "big") & (2**63 - 1)


def sequence_uniforms(seed: int, indices: range, steps: int) -> torch.Tensor:
    """(len(indices), steps) float64 uniforms, row i from the generator of sequence indices[i]."""
    rows = [torch.rand(steps, generator=torch.Generator().manual_seed(sequence_seed(seed, i)), dtype=torch.float64)
            for i in indices]
    return torch.stack(rows)


def _step(model: Any, tokens: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
    out = model(input_ids=tokens, past_key_values=cache, use_cache=True)
    return out.logits[:, -1, :], out.past_key_values


@torch.inference_mode()
def decode_batch(base: Any, toxic: Any, *, bos_id: int, eos_id: int | None, indices: range, max_length: int,
                 seed: int, settings: ContrastiveSettings) -> list[list[int]]:
    """Decode the sequences `indices` together from a BOS-only prompt; return their new token ids.

    A sequence ends at EOS (not included) or after `max_length - 1` new tokens.
    """
    steps, device = max_length - 1, base.device
    uniforms = sequence_uniforms(seed, indices, steps).to(device)
    tokens = torch.full((len(indices), 1), bos_id, dtype=torch.long, device=device)
    base_cache = toxic_cache = None
    generated = torch.zeros((len(indices), steps), dtype=torch.long, device=device)
    lengths = torch.full((len(indices),), steps, dtype=torch.long, device=device)
    done = torch.zeros(len(indices), dtype=torch.bool, device=device)
    for step in range(steps):
        base_logits, base_cache = _step(base, tokens, base_cache)
        toxic_logits, toxic_cache = _step(toxic, tokens, toxic_cache)
        chosen = sample_inverse_cdf(next_token_probs(base_logits, toxic_logits, settings), uniforms[:, step])
        generated[:, step] = chosen
        if eos_id is not None:
            ended = (chosen == eos_id) & ~done
            lengths[ended] = step
            done |= ended
            if bool(done.all()):
                break
        tokens = chosen.unsqueeze(-1)
    return [generated[row, : int(lengths[row])].tolist() for row in range(len(indices))]


def contrastive_generate(base: Any, toxic: Any, *, bos_id: int, eos_id: int | None, num_texts: int, max_length: int,
                         batch_size: int, seed: int, settings: ContrastiveSettings,
                         progress: Callable[[int], None] | None = None) -> list[list[int]]:
    """Token ids of `num_texts` contrastive samples, decoded `batch_size` at a time."""
    texts: list[list[int]] = []
    for start in range(0, num_texts, batch_size):
        indices = range(start, min(start + batch_size, num_texts))
        texts += decode_batch(base, toxic, bos_id=bos_id, eos_id=eos_id, indices=indices, max_length=max_length,
                              seed=seed, settings=settings)
        if progress:
            progress(len(texts))
    return texts
