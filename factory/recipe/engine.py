"""Recipe section `engine`: where the heavy stages run - this machine, or a Ray cluster.

With `name: local` (the default) nothing here is read. With `name: ray`, generation
(`ray.data.llm`) and MinHash near-duplicate removal (Ray Data) run on the cluster at
`address`; every other setting of the recipe means the same as on the local engine, and
the outputs are the same rows.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from factory.recipe.base import Ratio, Section


class StageResources(Section):
    """Ray resources of one stage: what each worker reserves, how many workers, rows per batch."""

    num_cpus: float = Field(
        1.0, ge=0.0, description="CPUs each worker of this stage reserves (vLLM: per tensor-parallel worker)."
    )
    num_gpus: float = Field(
        0.0, ge=0.0, description="GPUs each worker reserves (vLLM: per tensor-parallel worker, so a replica takes "
        "tensor_parallel_size times this)."
    )
    concurrency: int = Field(
        1, ge=1, description="Workers of this stage at most (vLLM: model replicas; dedupe: parallel signature tasks)."
    )
    batch_size: int = Field(256, ge=1, description="Rows per batch handed to one worker.")


def _generate_resources() -> StageResources:
    return StageResources(num_cpus=1.0, num_gpus=1.0, concurrency=1, batch_size=64)


class RayVllm(Section):
    """vLLM engine settings that matter on GPU clusters; unset ones come from `generate.vllm`."""

    tensor_parallel_size: int | None = Field(
        None, ge=1, description="GPUs per model replica (default: generate.vllm.tensor_parallel_size)."
    )
    gpu_memory_utilization: Ratio | None = Field(
        None, description="Share of each GPU's memory vLLM may take for weights and KV cache (default: "
        "generate.vllm.gpu_memory_utilization)."
    )
    max_num_batched_tokens: int | None = Field(
        None, ge=16, description="Tokens one engine step may process (prefill chunk size); default: vLLM's choice."
    )
    max_num_seqs: int | None = Field(
        None, ge=1, description="Sequences in flight per replica at most; default: vLLM's choice."
    )


class Engine(Section):
    """Where generation and MinHash dedupe run: `local` (this process) or `ray` (a Ray cluster)."""

    name: Literal["local", "ray"] = Field(
        "local", description="local: this machine, in process; ray: Ray Data on the cluster at `address`."
    )
    address: str | None = Field(
        None, description="Ray cluster address (`auto`, `ray://head:10001`); None starts or joins a Ray on this "
        "machine."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables for the Ray workers (e.g. VLLM_CPU_KVCACHE_SPACE); "
        "never secrets."
    )
    generate: StageResources = Field(
        default_factory=_generate_resources, description="Resources of the generation workers (vLLM replicas or HTTP "
        "clients)."
    )
    dedupe: StageResources = Field(
        default_factory=StageResources, description="Resources of the MinHash signature workers."
    )
    shuffle_partitions: int = Field(
        8, ge=1, description="Partitions of the bucket group-by and the joins of the Ray dedupe (about 2-4 per CPU of "
        "the cluster)."
    )
    vllm: RayVllm = Field(default_factory=RayVllm, description="vLLM-on-Ray settings.")


RAY_KINDS = ("toxify", "detoxify")
"""Recipe kinds whose generation runs on Ray (the others use generation code of their own)."""


def engine_problems(kind: str, backend: str | None, engine: Engine) -> list[str]:
    """What stops this recipe from running on `engine` ([] when nothing does); `backend` None: the kind has no
    `generate` section."""
    if engine.name != "ray":
        return []
    problems = []
    if kind not in RAY_KINDS:
        problems.append(f"engine.name: ray runs kinds {', '.join(RAY_KINDS)}; kind {kind} runs on the local engine")
    if backend is not None and backend not in ("vllm", "openai"):
        problems.append(f"generate.backend: engine ray generates with vllm (vLLM on Ray) or openai "
                        f"(Ray HTTP clients of OpenAI-compatible servers), not {backend}")
    return problems
