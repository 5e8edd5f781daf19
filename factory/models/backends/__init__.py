"""Generation backends behind one protocol (see `base.Backend`)."""

from __future__ import annotations

from pathlib import Path

from factory.core.errors import FactoryError
from factory.models.backends.base import Backend, Completion, Request, is_truncated, request_seed
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate


def open_backend(settings: Generate, spec: ModelSpec | None, root: Path = Path("data"),
                 cache: Path | None = None) -> Backend:
    """Open the backend the recipe names, for the generator model `spec`.

    With `cache`, finished requests are stored there and reruns send only missing ones.
    """
    if spec is None:
        raise FactoryError("models.generator: this recipe kind needs a generator model")
    backend = _open_inner(settings, spec, root)
    if cache is None:
        return backend
    from factory.models.cache import CachedBackend

    return CachedBackend(backend, cache)


def _open_inner(settings: Generate, spec: ModelSpec, root: Path) -> Backend:
    if settings.backend == "hf":
        from factory.models.backends.hf import HFBackend

        return HFBackend(spec, root, batch_size=settings.batch_size)
    if settings.backend == "vllm":
        from factory.models.backends.vllm_offline import VllmBackend

        return VllmBackend(spec, root, settings.vllm, seed=settings.sampling.seed)
    if settings.backend == "openai":
        from factory.models.backends.openai_client import OpenAIBackend

        return OpenAIBackend(spec, root, settings.server)
    raise FactoryError(f"generate.backend: unknown backend {settings.backend!r} (hf, vllm or openai)")


__all__ = ["Backend", "Completion", "Request", "is_truncated", "open_backend", "request_seed"]
