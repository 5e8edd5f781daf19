"""Generation on Ray Data (`ray.data.llm.build_processor`), behind the local backends' protocol.

`RayBackend` takes the very requests the local engine builds (chat messages, a seed per
request) and returns the same completions, so the generate stage keeps its row ids,
output checks, re-sampling and drop reasons; only where the tokens are made changes.

- `generate.backend: vllm` -> `vLLMEngineProcessorConfig`: `engine.generate.concurrency`
  vLLM replicas, each in a placement group of `tensor_parallel_size` bundles of
  {CPU: num_cpus, GPU: num_gpus}. Each request is rendered with the model's chat template
  and tokenized without added special tokens, as the local `vllm` backend does; a request
  for n completions becomes n rows with n = 1 and seeds seed, seed + 1, ..., which is how
  vLLM itself expands n > 1 with a seed - so the texts equal the local engine's.
  Ray's own chat-template, tokenize and detokenize stages are off (the text is vLLM's).
- `generate.backend: openai` -> `HttpRequestProcessorConfig`: `concurrency` HTTP client
  workers post the local `openai` backend's request bodies (same model, messages or
  prompt, sampling, seed) to the OpenAI-compatible server at `generate.server.base_url`,
  with the key the local backend reads (`generate.server.api_key_env`); the served model is
  listed through the `openai` SDK with the local backend's timeout and retries.

Every completion carries its `truncated` flag (`factory.models.backends.base.Completion`):
over HTTP from the answer's `finish_reason`; Ray's vLLM stage passes on the generated
tokens but not vLLM's finish reason, so it is derived from them (`reached_token_limit`).

Results stream back to the driver as they finish; `open_ray_backend` puts the factory's
request cache in front (`factory.models.cache`), which commits every finished request at
once, so an interrupted run resumes with the missing requests only. Ray retries the tasks
and restarts the actors of a worker that dies; a request that never comes back is an
error, never a silently missing row. `ray` is imported only inside functions.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import pyarrow as pa

from factory.engines.ray_session import connect
from factory.core.errors import FactoryError
from factory.models.backends import Backend, Request
from factory.models.backends.base import Completion, render_prompt
from factory.models.backends.openai_client import (NO_KEY, UnusableAnswer, choice_completion, describe_failure,
                                                     import_openai, mask_key, pick_served_model, read_api_key,
                                                     served_models)
from factory.models.backends.vllm_offline import engine_kwargs
from factory.models.loading import describe as describe_model
from factory.models.loading import resolve
from factory.recipe.base import ModelSpec
from factory.recipe.engine import Engine
from factory.recipe.generate import Generate, Sampling, ServerSettings

if TYPE_CHECKING:
    from ray.data import Dataset

OnResult = Callable[[int, list[Completion]], None]


def open_ray_backend(settings: Generate, spec: ModelSpec | None, engine: Engine, root: Path = Path("data"),
                     cache: Path | None = None) -> Backend:
    """The Ray generation backend for the recipe's generator, behind the request cache when given."""
    if spec is None:
        raise FactoryError("models.generator: this recipe kind needs a generator model")
    backend = RayBackend(settings, spec, engine, Path(root))
    if cache is None:
        return backend
    from factory.models.cache import CachedBackend

    return CachedBackend(backend, cache)


@functools.lru_cache(maxsize=2)
def _tokenizer(model: str, revision: str | None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, revision=revision)


def vllm_row(row: dict[str, Any], *, model: str, revision: str | None, sampling: dict[str, Any]) -> dict[str, Any]:
    """Preprocess for vLLM: the token-id prompt and this row's sampling (n = 1, its own seed)."""
    tokenizer = _tokenizer(model, revision)
    text = render_prompt(tokenizer, json.loads(row["messages"]))
    params = {"n": 1, "temperature": sampling["temperature"], "top_p": sampling["top_p"],
              "top_k": sampling["top_k"] or -1, "max_tokens": sampling["max_new_tokens"],
              "seed": int(row["seed"]), "stop": list(sampling["stop"]) or None}
    return {"row": row["row"], "choice": row["choice"],
            "tokenized_prompt": tokenizer(text, add_special_tokens=False)["input_ids"], "sampling_params": params}


@functools.lru_cache(maxsize=2)
def _stop_token_ids(model: str, revision: str | None) -> frozenset[int]:
    """Token ids vLLM stops at: the tokenizer's EOS and the generation config's EOS id(s)."""
    from transformers import GenerationConfig

    ids = {_tokenizer(model, revision).eos_token_id}
    try:
        configured = GenerationConfig.from_pretrained(model, revision=revision).eos_token_id
    except OSError:  # no generation_config.json
        configured = None
    ids.update(configured if isinstance(configured, (list, tuple)) else [configured])
    return frozenset(int(i) for i in ids if i is not None)


def reached_token_limit(tokens: Sequence[int], max_tokens: int, stop: Sequence[str], stop_ids: frozenset[int],
                        tokenizer: Any) -> bool:
    """vLLM's finish_reason "length" from a completion's generated token ids: `max_tokens`
    tokens (the request's, or the room left in the context), the last one not a stop token
    (vLLM keeps the EOS in the ids) and no stop string in their text (vLLM cuts the text
    there but keeps the tokens)."""
    if len(tokens) < max_tokens or (tokens and tokens[-1] in stop_ids):
        return False
    text = tokenizer.decode(list(tokens), skip_special_tokens=True) if stop else ""
    return not any(s and s in text for s in stop)


def vllm_result(row: dict[str, Any], *, model: str, revision: str | None, sampling: dict[str, Any],
                max_model_len: int | None = None) -> dict[str, Any]:
    """Postprocess for vLLM: (row, choice, [text], [truncated])."""
    generated = row.get("generated_tokens")
    tokens = [] if generated is None else [int(t) for t in generated]
    limit = sampling["max_new_tokens"]
    if max_model_len is not None and row.get("num_input_tokens") is not None:
        limit = min(limit, max_model_len - int(row["num_input_tokens"]))
    truncated = reached_token_limit(tokens, limit, list(sampling["stop"] or []),
                                    _stop_token_ids(model, revision), _tokenizer(model, revision))
    return {"row": row["row"], "choice": row["choice"], "texts": [str(row["generated_text"]).strip()],
            "truncated": [truncated]}


def http_row(row: dict[str, Any], *, served: str, model: str, revision: str | None, mode: str,
             sampling: dict[str, Any]) -> dict[str, Any]:
    """Preprocess for an OpenAI-compatible server: the body the local `openai` backend posts."""
    body: dict[str, Any] = {"model": served, "temperature": sampling["temperature"], "top_p": sampling["top_p"],
                            "max_tokens": sampling["max_new_tokens"], "n": sampling["n"], "seed": int(row["seed"])}
    if sampling["stop"]:
        body["stop"] = list(sampling["stop"])
    if sampling["top_k"]:
        body["top_k"] = sampling["top_k"]
    messages = json.loads(row["messages"])
    if mode == "chat":
        body["messages"] = messages
    else:
        body["prompt"] = render_prompt(_tokenizer(model, revision), messages)
        body["add_special_tokens"] = False
    return {"row": row["row"], "choice": row["choice"], "payload": body}


def http_result(row: dict[str, Any], *, mode: str, n: int) -> dict[str, Any]:
    """Postprocess for a server answer: (row, 0, the n texts in choice order, their truncated flags)."""
    answer = row["http_response"] or {}
    choices = sorted(list(answer.get("choices") if answer.get("choices") is not None else []),
                     key=lambda c: c.get("index", 0))
    if len(choices) != n:
        raise ValueError(f"request row {row['row']}: expected {n} choices, the server answered {str(answer)[:300]}")
    completions = [choice_completion(c, mode) for c in choices]
    return {"row": row["row"], "choice": 0, "texts": [str(c) for c in completions],
            "truncated": [c.truncated for c in completions]}


def served_model(server: ServerSettings, spec: ModelSpec, root: Path) -> str:
    """The model id to post (`pick_served_model`), listed through the `openai` SDK with the local
    backend's key, timeout and retries."""
    openai = import_openai()
    base_url, key = server.base_url.rstrip("/"), read_api_key(server)
    try:
        with openai.OpenAI(base_url=base_url, api_key=key or NO_KEY, max_retries=server.max_retries,
                           timeout=server.timeout_s) as client:
            served = served_models(client.models.with_raw_response.list().http_response.json())
    except (openai.APIError, UnusableAnswer, ValueError) as error:
        raise FactoryError(f"generate.server.base_url: cannot list the models of {base_url} "
                           f"({mask_key(describe_failure(error), key)})") from error
    return pick_served_model(served, spec, root, base_url)


def root_cause(error: BaseException) -> str:
    """The innermost error behind Ray's wrappers, as its last line (`Type: message`).

    A `RayTaskError`'s first line only names the actor method that failed; the worker's own
    exception (e.g. vLLM's) is its `cause` and the last line of its text.
    """
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


class RayBackend:
    """Generate on Ray Data: vLLM replicas (backend vllm) or HTTP clients (backend openai); see the module doc."""

    name = "ray"

    def __init__(self, settings: Generate, spec: ModelSpec, engine: Engine, root: Path):
        if settings.backend not in ("vllm", "openai"):
            raise FactoryError(f"generate.backend: engine ray runs vllm or openai, not {settings.backend}")
        self.settings, self.spec, self.engine, self.root = settings, spec, engine, root
        self.mode = settings.backend

    def describe(self) -> dict[str, Any]:
        """Provenance; `client` holds the settings that do not change outputs (left out of cache keys)."""
        client = {"ray": self.engine.model_dump(mode="json", exclude={"name", "env"})}
        out: dict[str, Any] = {"backend": f"ray-{self.mode}", "model": describe_model(self.spec, self.root)}
        if self.mode == "vllm":
            tp = self.engine.vllm.tensor_parallel_size or self.settings.vllm.tensor_parallel_size
            out["engine"] = self.settings.vllm.model_dump(mode="json", exclude={"gpu_memory_utilization"}) | {
                "tensor_parallel_size": tp}
        else:
            out["mode"] = self.settings.server.mode
            client["server"] = self.settings.server.model_dump(mode="json", exclude={"mode"})
        return out | {"client": client}

    def generate(self, requests: Sequence[Request], sampling: Sampling) -> list[list[Completion]]:
        """`sampling.n` completions per request, in input order."""
        results: list[list[Completion]] = [[] for _ in requests]

        def keep(index: int, outputs: list[Completion]) -> None:
            results[index] = outputs

        self.generate_streaming(requests, sampling, keep)
        return results

    def generate_streaming(self, requests: Sequence[Request], sampling: Sampling, on_result: OnResult) -> None:
        """Run every request on the cluster, calling `on_result(index, completions)` as each one is complete."""
        if not requests:
            return
        connect(self.engine)
        copies = sampling.n if self.mode == "vllm" else 1
        processor = self._vllm_processor(sampling) if self.mode == "vllm" else self._http_processor(sampling)
        outputs = processor(self._requests(requests, copies))
        try:
            finished = self._collect(outputs, sampling.n, on_result)
        except FactoryError:
            raise
        except Exception as error:  # Ray wraps worker errors in its own exception types
            raise FactoryError(f"engine ray: generation failed ({root_cause(error)[:500]})") from error
        if finished != len(requests):
            raise FactoryError(f"engine ray: {len(requests) - finished} of {len(requests)} "
                               "requests came back incomplete")

    @staticmethod
    def _collect(outputs: "Dataset", n: int, on_result: OnResult) -> int:
        pending: dict[int, list[Completion | None]] = {}
        done: set[int] = set()
        columns = ("row", "choice", "texts", "truncated")
        for batch in outputs.iter_batches(batch_format="pyarrow", batch_size=None):
            for row, choice, texts, flags in zip(*(batch.column(c).to_pylist() for c in columns)):
                if row in done:  # a retried task may deliver a finished row again
                    continue
                slots = pending.setdefault(row, [None] * n)
                slots[choice:choice + len(texts)] = [Completion(str(t), bool(f)) for t, f in zip(texts, flags)]
                if None not in slots:
                    done.add(row)
                    on_result(row, [c for c in pending.pop(row) if c is not None])
        return len(done)

    def _requests(self, requests: Sequence[Request], copies: int) -> "Dataset":
        """One dataset row per request and completion index: (row, choice, messages JSON, seed)."""
        import ray.data

        count = len(requests) * copies
        table = pa.table({
            "row": [i for i in range(len(requests)) for _ in range(copies)],
            "choice": [c for _ in requests for c in range(copies)],
            "messages": [json.dumps(list(r.messages), ensure_ascii=False) for r in requests for _ in range(copies)],
            "seed": [r.seed + c for r in requests for c in range(copies)],
        })
        size = self.engine.generate.batch_size
        return ray.data.from_arrow([table.slice(s, size) for s in range(0, count, size)])

    def _vllm_processor(self, sampling: Sampling) -> Any:
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig

        kwargs = engine_kwargs(self.spec, self.root, self.settings.vllm, self.settings.sampling.seed)
        model = kwargs.pop("model")
        cluster, resources = self.engine.vllm, self.engine.generate
        kwargs["tensor_parallel_size"] = cluster.tensor_parallel_size or kwargs["tensor_parallel_size"]
        kwargs["gpu_memory_utilization"] = cluster.gpu_memory_utilization or kwargs["gpu_memory_utilization"]
        for name in ("max_num_batched_tokens", "max_num_seqs"):
            if getattr(cluster, name) is not None:
                kwargs[name] = getattr(cluster, name)
        bundle = {"CPU": resources.num_cpus} | ({"GPU": resources.num_gpus} if resources.num_gpus else {})
        if not resources.num_gpus:  # vLLM on CPU cannot rewind seeded generators after a partial prefill
            kwargs["enable_chunked_prefill"] = False
        config = vLLMEngineProcessorConfig(
            model_source=model, engine_kwargs=kwargs, batch_size=resources.batch_size,
            concurrency=resources.concurrency, placement_group_config={"bundle_per_worker": bundle},
            log_engine_metrics=False, chat_template_stage=False, tokenize_stage=False, detokenize_stage=False,
            runtime_env={"env_vars": dict(self.engine.env)} if self.engine.env else None)
        preprocess = functools.partial(vllm_row, model=model, revision=self.spec.revision,
                                       sampling=sampling.model_dump(mode="json"))
        postprocess = functools.partial(vllm_result, model=model, revision=self.spec.revision,
                                        sampling=sampling.model_dump(mode="json"),
                                        max_model_len=kwargs.get("max_model_len"))
        return build_processor(config, preprocess=preprocess, postprocess=postprocess)

    def _http_processor(self, sampling: Sampling) -> Any:
        from ray.data.llm import HttpRequestProcessorConfig, build_processor

        server = self.settings.server
        base_url = server.base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {read_api_key(server) or NO_KEY}"}  # as the local backend sends
        served = served_model(server, self.spec, self.root)
        path = "/chat/completions" if server.mode == "chat" else "/completions"
        resources = self.engine.generate
        config = HttpRequestProcessorConfig(
            url=f"{base_url}{path}", headers=headers, batch_size=resources.batch_size,
            concurrency=resources.concurrency, max_retries=server.max_retries)
        preprocess = functools.partial(http_row, served=served, model=resolve(self.spec, self.root),
                                       revision=self.spec.revision, mode=server.mode,
                                       sampling=sampling.model_dump(mode="json"))
        return build_processor(config, preprocess=preprocess,
                               postprocess=functools.partial(http_result, mode=server.mode, n=sampling.n))
