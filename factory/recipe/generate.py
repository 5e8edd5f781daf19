"""Recipe section for generation: backend, prompt, sampling and output checks."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from factory.recipe.base import ApiKeyEnv, Dtype, HttpUrl, Ratio, Section, Seed
from factory.recipe.sources import PairSource
from factory.recipe.unread import RejectsUnread


class Sampling(Section):
    """Sampling settings, passed to every backend the same way."""

    temperature: float = Field(0.8, ge=0.0, description="Softmax temperature (0 = greedy).")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: int = Field(0, ge=0, description="Top-k cut-off (0 = off).")
    max_new_tokens: int = Field(64, ge=1, description="Tokens generated per request at most.")
    n: int = Field(1, ge=1, description="Completions per input.")
    seed: Seed = Field(0, description="Base seed; each request's seed is derived from it and the row id.")
    stop: list[str] = Field(default_factory=lambda: ["\n"], description="Stop strings.")


class Prompt(Section):
    """The chat prompt: a system message and k few-shot examples from the human train split (or `few_shot_source`)."""

    system: str | None = Field(
        None, description="System message, any text (a YAML block scalar `|` keeps line breaks); a paper's own "
        "prompt is pasted here (PseudoParaDetox: detoxer.py line 122). Default: factory.prompts.DEFAULT_SYSTEM for "
        "the kind, a paraphrase. The `abliterate` section uses the same system prompt.")
    few_shot: int = Field(
        3, ge=0, le=50, description="k: few-shot examples per request (published: 10 for PseudoParaDetox)."
    )
    few_shot_seed: Seed = Field(0, description="Seed of the per-request choice of few-shot examples.")
    few_shot_choice: Literal["random", "last"] = Field(
        "random", description="random: k pairs sampled per input (seeded by few_shot_seed and the input); last: the "
        "last k pairs of the pool in stored order, the same for every input, as PseudoParaDetox's detoxer.py (the "
        "last 10 pairs of the `en` split of textdetox/multilingual_paradetox). The input's own pair is never an "
        "example.")
    few_shot_source: PairSource | None = Field(
        None, description="Pool of few-shot pairs, read in stored order. Default: the human train split (in the "
        "seeded order `ingest` wrote). PseudoParaDetox: {source: textdetox/multilingual_paradetox, hub_split: en, "
        "toxic_column: toxic_sentence, neutral_column: neutral_sentence}; its pairs may overlap the human test split, "
        "which then appears in prompts (decontamination checks outputs, not prompts).")

    @field_validator("system")
    @classmethod
    def _system_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty system prompt; leave the field out for the kind's default")
        return value


class VllmSettings(Section):
    """Settings of the vLLM offline engine (backend `vllm`)."""

    dtype: Dtype = Field("auto", description="Weights dtype: auto (that of models.generator), float32, bfloat16 "
                                             "or float16.")
    max_model_len: int | None = Field(None, ge=16, description="Context length (prompt + output) to reserve.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model replica.")
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0, description="Share of GPU memory vLLM may use.")
    enforce_eager: bool = Field(False, description="Disable CUDA graphs (faster start, slower run).")


class ServerSettings(Section):
    """Client settings for an OpenAI-compatible server (backend `openai`)."""

    base_url: HttpUrl = Field("http://127.0.0.1:8000/v1", description="Server URL, ending in /v1.")
    api_key_env: ApiKeyEnv = Field(
        "OPENAI_API_KEY",
        description="Environment variable holding the API key (never the key itself), sent as a bearer token to "
        "base_url when set; an upper-case name ending in _API_KEY, never a credential of another service "
        "(HF_*, AWS_*, GITHUB_*, WANDB_* ...). `factory check` prints which variable goes to which URL.",
    )
    mode: Literal["chat", "completion"] = Field("chat", description="Chat completions or plain completions.")
    concurrency: int = Field(16, ge=1, description="Requests in flight at most.")
    timeout_s: float = Field(120.0, gt=0,
                             description="Timeout of each attempt in seconds (to connect, and for the answer).")
    max_retries: int = Field(6, ge=0,
                             description="Retries per request, shared by HTTP failures (connection errors, timeouts, "
                                         "408/409/429/5xx; the openai SDK's backoff with jitter) and unusable answers "
                                         "(finish_reason abort or error).")


    def key_destination(self) -> str:
        """`sends $VAR to URL`: which variable's value goes, as a bearer token, to which server."""
        return f"sends ${self.api_key_env} to {self.base_url}"


class OutputChecks(Section):
    """Checks every generated text goes through, whatever the kind: a failed check drops the row with its name."""

    truncated: bool = Field(True, description="Drop an output (a translated side) whose generation hit "
                                               "generate.sampling.max_new_tokens without ending (no EOS, no stop "
                                               "string): cut off mid-sentence.")
    refusal: bool = Field(True, description="Drop refusals: replies about the request, not rewrites (or "
                                             "translations) of the input (factory.checks.is_refusal).")
    toxicity_threshold: Ratio = Field(0.5, description="P(toxic) from models.toxicity above which a text counts "
                                                       "as toxic.")


class Checks(OutputChecks):
    """Output checks of toxify and detoxify; a failed check drops the row with the check's name as reason."""

    copy_max_similarity: Ratio = Field(
        0.97, description="Drop outputs whose similarity to the input is above this (copies)."
    )
    min_similarity: Ratio = Field(
        0.3, description="Drop outputs whose similarity to the input is below this (meaning lost)."
    )
    direction: bool = Field(True, description="Drop toxify outputs scored non-toxic and detoxify outputs scored toxic.")
    max_attempts: int = Field(
        1, ge=1, description="Re-sample rejected rows with a new seed up to this many attempts in all."
    )


class Generation(RejectsUnread, Section):
    """How texts are generated: backend, sampling and limits (selfgen and translate; their prompts are their own)."""

    UNREAD: ClassVar[dict[str, str]] = {
        "prompt": "not read by kinds selfgen and translate (selfgen prompts with BOS alone; translate's prompt "
                  "is translate.system)",
        "checks": "not read by kinds selfgen and translate (selfgen keeps its least toxic share, "
                  "selfgen.keep_fraction; translate's checks are translate.checks)",
    }

    backend: Literal["hf", "vllm", "openai"] = Field(
        "hf", description="hf (transformers), vllm (offline engine) or openai (server client)."
    )
    max_inputs: int | None = Field(None, ge=1, description="Use at most this many input rows (after a seeded shuffle).")
    batch_size: int = Field(16, ge=1, description="Prompts per batch (hf backend).")
    sampling: Sampling = Field(default_factory=Sampling, description="Sampling settings.")
    vllm: VllmSettings = Field(default_factory=VllmSettings, description="vLLM engine settings.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="OpenAI-compatible server settings.")


class Generate(Generation):
    """How rows are generated (toxify, detoxify): backend, prompt, sampling, checks and limits."""

    UNREAD: ClassVar[dict[str, str]] = {}

    prompt: Prompt = Field(default_factory=Prompt, description="System prompt and few-shot settings.")
    checks: Checks = Field(default_factory=Checks, description="Output checks.")
