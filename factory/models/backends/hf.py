"""The transformers backend: batched `generate` with left padding, for CPU and tiny runs.

Each completion is sampled with its own `torch.Generator`, seeded from its request's seed
(and the copy number when n > 1), so a request's text depends on the request alone: not on
the other requests in its batch nor on the batch size. A run limited to the first rows and
then completed from the request cache gives the rows of a clean full run. (Batched and
single forward passes differ in the last float bits; a sampled token can only change when
its draw falls within such a difference of a token boundary, about one token in a million.)

Batching stays: the batch runs through one `generate` call in greedy mode, and
`RowSampler`, the last logits processor, draws each row's token from the row's generator
(after temperature, top-k and top-p, as transformers' own sampling applies them) and
leaves that token the only choice. Temperature 0 is plain greedy decoding.

A completion is `truncated` when it has `max_new_tokens` new tokens, none of them an
EOS token (the tokenizer's or the generation config's), and no stop string cut it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from factory.models.backends.base import Completion, Request, cut_at_stop, render_prompt
from factory.models.loading import describe as describe_model
from factory.models.loading import load_causal_lm
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling

SAMPLER = "per-request-generator"
"""Names the sampling scheme in `describe()`, so cached rows of the former per-batch RNG never mix in."""


def copy_seed(seed: int, copy: int) -> int:
    """Seed of completion number `copy` (0-based) of a request with seed `seed`."""
    digest = hashlib.sha256(f"hf:{seed}:{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def row_sampler(generators: Sequence[Any], sampling: Sampling) -> Any:
    """A logits processor drawing row i's next token with `generators[i]` (see the module doc)."""
    import torch
    from transformers import LogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    warpers = [TemperatureLogitsWarper(sampling.temperature)]
    if sampling.top_k:
        warpers.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(sampling.top_p))

    class RowSampler(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for warper in warpers:
                scores = warper(input_ids, scores)
            probs = scores.float().softmax(-1)
            picks = torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)])
            chosen = torch.full_like(scores, float("-inf"))
            return chosen.scatter_(1, picks.unsqueeze(1), 0.0)

    return RowSampler()


class HFBackend:
    """Generate with `transformers` in batches of `batch_size` left-padded prompts (see the module doc)."""

    name = "hf"

    def __init__(self, spec: ModelSpec, root: Path = Path("data"), batch_size: int = 16):
        self.spec, self.root, self.batch_size = spec, root, batch_size
        self.model, self.tokenizer = load_causal_lm(spec, root)
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        self.commit_every = batch_size  # a request cache commits after every batch (see factory.models.cache)

    def describe(self) -> dict[str, Any]:
        """Provenance of the backend and its model; the batch size does not change outputs (`client`)."""
        return {"backend": self.name, "model": describe_model(self.spec, self.root), "sampler": SAMPLER,
                "client": {"batch_size": self.batch_size}}

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """Return `sampling.n` completions per request, in input order."""
        out: list[list[Completion]] = []
        for start in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[start : start + self.batch_size], sampling))
        return out

    def _batch(self, batch: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        import torch
        from transformers import LogitsProcessorList

        prompts = [render_prompt(self.tokenizer, r.messages) for r in batch for _ in range(sampling.n)]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
        kwargs: dict[str, Any] = {"do_sample": False, "num_beams": 1, "max_new_tokens": sampling.max_new_tokens}
        if sampling.temperature > 0:
            generators = [torch.Generator(device=self.model.device).manual_seed(copy_seed(r.seed, c))
                          for r in batch for c in range(sampling.n)]
            kwargs["logits_processor"] = LogitsProcessorList([row_sampler(generators, sampling)])
        with torch.inference_mode():
            generated = self.model.generate(**enc, pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        new_tokens = generated[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        at_limit = new_tokens.shape[1] >= sampling.max_new_tokens
        completions = []
        for text, tokens in zip(texts, new_tokens.tolist()):
            cut = cut_at_stop(text, sampling.stop)
            ended = len(cut) < len(text) or any(t in self.eos_ids for t in tokens)
            completions.append(Completion(cut.strip(), truncated=at_limit and not ended))
        return [completions[i * sampling.n : (i + 1) * sampling.n] for i in range(len(batch))]


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Token ids that end a generation: the generation config's EOS id(s) and the tokenizer's."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(configured if isinstance(configured, (list, tuple)) else [configured])
    ids.add(getattr(tokenizer, "eos_token_id", None))
    return {int(i) for i in ids if i is not None}
