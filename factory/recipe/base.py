"""Shared building blocks of the recipe schema: strict sections, seeds, dtypes and model references."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler,
                      PrivateAttr, model_validator)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_PATH_SUFFIXES = (".tsv", ".csv", ".parquet", ".jsonl", ".json", ".txt", ".yaml", ".yml")


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are validated strictly.

    Strict: an integer field takes only an integer (not `true`, `3.0` or `"3"`), a float
    field a number (not `true` or `"0.5"`), a flag only `true`/`false`; and no float may be
    `.inf` or `.nan` (YAML has real numbers, and a gate or setting of infinity is a typo).
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True, allow_inf_nan=False)


def looks_like_path(value: str) -> bool:
    """True when a string names a local file or folder rather than a Hub id or a keyword."""
    return (
        value.startswith(("/", "./", "../", "~"))
        or value.lower().endswith(_PATH_SUFFIXES)
        or value.count("/") > 1
    )


def _must_exist(value: str | None) -> str | None:
    if value is not None and looks_like_path(value) and not Path(value).expanduser().exists():
        raise ValueError(f"file or folder not found: {value} (relative paths are read from the project root)")
    return value


ExistingPathOrId = Annotated[str, AfterValidator(_must_exist)]
"""A Hub id, a keyword such as `seed` or `zoo:NAME`, or a local path that must exist."""

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
"""A number in [0, 1]."""

Seed = Annotated[int, Field(ge=0, lt=2**63)]
"""A random seed: an integer in [0, 2**63), what torch, numpy and vLLM all accept."""

DTYPES = ("auto", "float32", "float16", "bfloat16")
DTYPE_ALIASES = {"float": "float32", "fp32": "float32", "half": "float16", "fp16": "float16", "bf16": "bfloat16"}


def _canonical_dtype(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip().lower()
    if name in DTYPES or name in DTYPE_ALIASES:
        return DTYPE_ALIASES.get(name, name)
    aliases = ", ".join(f"{a}={c}" for a, c in DTYPE_ALIASES.items())
    raise ValueError(f"unknown dtype (use {', '.join(DTYPES)}; aliases: {aliases})")


Dtype = Annotated[Literal["auto", "float32", "float16", "bfloat16"], BeforeValidator(_canonical_dtype)]
"""Weights dtype: auto, float32, float16 or bfloat16 (aliases float, fp32, half, fp16, bf16 are normalised)."""


PERSPECTIVE = "perspective:"
"""Prefix of a Perspective API scorer ref: `perspective:TOXICITY` (the attribute to request)."""

OTHER_SERVICE_PREFIXES = ("AWS_", "AZURE_STORAGE_", "DOCKER_", "DVC_", "GCP_", "GH_", "GITHUB_", "GITLAB_",
                          "GOOGLE_APPLICATION_", "HF_", "HUGGING", "NPM_", "PYPI_", "SSH_", "TWINE_", "WANDB_")
"""Variables of these prefixes hold credentials of the Hub, clouds, code hosts and trackers: never sent to a server."""
OTHER_SERVICE_KEYS = frozenset({
    "CIRCLECI_API_KEY", "CLOUDFLARE_API_KEY", "COMET_API_KEY", "DATADOG_API_KEY", "DD_API_KEY", "HEROKU_API_KEY",
    "LANGCHAIN_API_KEY", "LANGSMITH_API_KEY", "MAILGUN_API_KEY", "NEPTUNE_API_KEY", "SENDGRID_API_KEY",
    "SLACK_API_KEY", "STRIPE_API_KEY", "TWILIO_API_KEY",
})
"""API keys of services that are not generation servers (trackers, monitoring, mail, payments)."""


def api_key_env_problem(name: str) -> str | None:
    """Why the variable `name` may not be sent as a generation server's bearer token (None: it may).

    The rule: an upper-case name ending in `_API_KEY` (a key meant for an API such as
    OPENAI_API_KEY or VLLM_API_KEY), not of a known other service (`OTHER_SERVICE_PREFIXES`,
    `OTHER_SERVICE_KEYS`): so HF_TOKEN, AWS_SECRET_ACCESS_KEY or GITHUB_TOKEN never leave.
    """
    if name.startswith(OTHER_SERVICE_PREFIXES) or name in OTHER_SERVICE_KEYS:
        return f"{name} holds the credential of another service (Hub, cloud, code host, tracker); it is never sent"
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*_API_KEY", name):
        return ("must name an upper-case environment variable ending in _API_KEY "
                "(e.g. OPENAI_API_KEY, VLLM_API_KEY, PERSPECTIVE_API_KEY)")
    return None


def _dedicated_key(value: str) -> str:
    problem = api_key_env_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ApiKeyEnv = Annotated[str, AfterValidator(_dedicated_key)]
"""The name of an environment variable whose value may be sent as an API key (`api_key_env_problem`)."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http:// or https:// URL with a host (where an API key may be sent)."""


class PerspectiveSettings(Section):
    """Client settings of a Perspective API scorer (`ref: perspective:ATTRIBUTE`, factory/models/perspective.py).

    Reference: SGEAT's `examples/detxoify_lm/annotations/perspective_api_annotate.py` (NVIDIA/Megatron-LM):
    attribute TOXICITY, languages [en], text cut at 20,480 UTF-8 bytes. Scores are cached in
    <data>/cache/perspective.sqlite, so a rerun sends only texts not scored before.
    """

    api_key_env: ApiKeyEnv = Field(
        "PERSPECTIVE_API_KEY",
        description="Environment variable holding the API key (never the key itself); sent only to base_url, in the "
        "X-Goog-Api-Key header. An upper-case name ending in _API_KEY, never a credential of another service.",
    )
    base_url: Annotated[HttpUrl, AfterValidator(lambda url: url.rstrip("/"))] = Field(
        "https://commentanalyzer.googleapis.com/v1alpha1",
                          description="API root; requests go to <base_url>/comments:analyze.")
    languages: list[str] | None = Field(
        default_factory=lambda: ["en"],
        description="Language hint sent with every text (SGEAT reference: [en]); null lets the API detect it.",
    )
    qps: float = Field(1.0, gt=0, description="Requests per second at most (the API's default quota: 1).")
    max_retries: int = Field(6, ge=0, description="Retries on 429/5xx/connection errors (exponential backoff).")
    timeout_s: float = Field(30.0, gt=0, description="Per-request timeout in seconds.")
    max_bytes: int = Field(20480, ge=1, description="Texts are cut to this many UTF-8 bytes (reference: 20,480).")



class ModelSpec(Section):
    """A model for one role: a Hub id, a local folder, `zoo:NAME`, `package:NAME` or `perspective:ATTRIBUTE`.

    A bare string in YAML is read as `ref`. `zoo:NAME` is a folder of the tiny zoo that
    `factory zoo` builds (data/models/zoo/NAME); `package:profanity-check` and
    `package:all-minilm-l6-v2` are models that installed Python packages ship;
    `perspective:TOXICITY` is the Perspective API (toxicity role only, settings in `perspective`).
    """

    ref: ExistingPathOrId = Field(
        description="Hub id, local folder, `zoo:NAME`, `package:NAME` or `perspective:ATTRIBUTE` (toxicity only)."
    )
    revision: str | None = Field(
        None, description="Hub revision (branch, tag or commit) to pin; recorded in provenance."
    )
    label: str | int | None = Field(
        None,
        description="For classifiers: the label (name or index) whose probability is the score "
        "(toxicity: the toxic label; fluency: the acceptable label). Default: the label named toxic or offensive "
        "(toxicity), acceptable (fluency); a classifier without such a label (e.g. LABEL_0/LABEL_1) must name it.",
    )
    activation: Literal["softmax", "sigmoid"] = Field(
        "softmax",
        description="For classifiers: softmax over the labels, or sigmoid of the label's own logit (multi-label "
        "heads such as Detoxify 'original' = unitary/toxic-bert, label toxic, as UniDetox's unidetox/unidetox.py "
        "scores toxicity).",
    )
    dtype: Dtype = Field("auto", description="Weights dtype: auto, float32, bfloat16 or float16.")
    perspective: PerspectiveSettings | None = Field(
        None,
        description="Perspective API client settings (only for `perspective:ATTRIBUTE` refs; defaults when absent).",
    )

    _role: str = PrivateAttr("")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"ref": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _perspective_settings(self) -> "ModelSpec":
        if not self.ref.startswith(PERSPECTIVE):
            if self.perspective is not None:
                raise ValueError("perspective: only for a perspective:ATTRIBUTE ref")
            return self
        if not re.fullmatch(r"[A-Z][A-Z_]*", self.ref.removeprefix(PERSPECTIVE)):
            raise ValueError(f"ref: {self.ref!r}: expected perspective:ATTRIBUTE in capitals (perspective:TOXICITY)")
        self.perspective = self.perspective or PerspectiveSettings()
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The JSON schema says what `_from_string` accepts: a bare string (the `ref`) or the full object."""
        full = handler.resolve_ref_schema(handler(core_schema))
        bare = {"type": "string", "description": "The `ref` alone: " + full["properties"]["ref"]["description"]}
        return {"title": full.get("title", cls.__name__), "description": full.get("description", ""),
                "anyOf": [bare, {key: value for key, value in full.items() if key not in ("title", "description")}]}

    @property
    def role(self) -> str:
        """The recipe field this model fills (`models.toxicity`), for messages; `model` when built in code."""
        return self._role or "model"


def name_model_roles(section: BaseModel, prefix: str = "") -> None:
    """Record in every `ModelSpec` under `section` its field path (`lm_train.targets[0]`) as its role."""
    for name, value in section:
        path = f"{prefix}{name}"
        items = enumerate(value) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            where = path if index is None else f"{path}[{index}]"
            if isinstance(item, ModelSpec):
                item._role = where
            elif isinstance(item, BaseModel):
                name_model_roles(item, f"{where}.")
