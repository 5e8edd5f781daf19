"""The transformers backend: batched `generate` with left padding, for CPU and tiny runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.models.backends.base import Completion, Request, cut_at_stop, render_prompt
from factory.models.loading import describe as describe_model
from factory.models.loading import load_causal_lm
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling


class HFBackend:
    """Generate with `transformers` in batches of `batch_size` left-padded prompts.

    Sampling inside a batch shares one torch RNG stream, seeded from the batch's first
    request seed, so a rerun with the same batching gives the same text.

    A completion is `truncated` when it has `max_new_tokens` new tokens, none of them an
    EOS token (the tokenizer's or the generation config's), and no stop string cut it.
    """

    name = "hf"

    def __init__(self, spec: ModelSpec, root: Path = Path("data"), batch_size: int = 16):
        self.spec, self.root, self.batch_size = spec, root, batch_size
        self.model, self.tokenizer = load_causal_lm(spec, root)
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        self.commit_every = batch_size  # a request cache commits after every batch (see factory.models.cache)

    def describe(self) -> dict[str, Any]:
        """Provenance of the backend and its model."""
        return {"backend": self.name, "model": describe_model(self.spec, self.root), "batch_size": self.batch_size}

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """Return `sampling.n` completions per request, in input order."""
        out: list[list[Completion]] = []
        for start in range(0, len(requests), self.batch_size):
            out.extend(self._batch(requests[start : start + self.batch_size], sampling))
        return out

    def _batch(self, batch: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        import torch

        prompts = [render_prompt(self.tokenizer, r.messages) for r in batch]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(batch[0].seed)
        do_sample = sampling.temperature > 0
        kwargs: dict[str, Any] = {"do_sample": do_sample, "max_new_tokens": sampling.max_new_tokens}
        if do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k or None)
        with torch.inference_mode():
            generated = self.model.generate(
                **enc, num_return_sequences=sampling.n, pad_token_id=self.tokenizer.pad_token_id, **kwargs
            )
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
