"""Generation backends behind one protocol (see `base.Backend`)."""

from __future__ import annotations

from pathlib import Path

from factory.errors import FactoryError
from factory.models.backends.base import Backend, Request, request_seed
from factory.recipe.base import ModelSpec
from factory.recipe.generate import Generate


def open_backend(settings: Generate, spec: ModelSpec | None, root: Path = Path("data"),
                 cache: Path | None = None) -> Backend:
    """Open the backend the recipe names, for the generator model `spec`.

    With `cache`, finished requests are stored there and reruns send only missing ones.
    """
    if spec is None:
        raise FactoryError("models.generator: this recipe kind needs a generator model")
    if settings.backend == "hf":
        from factory.models.backends.hf import HFBackend

        return HFBackend(spec, root, batch_size=settings.batch_size)
    raise FactoryError(f"generate.backend: backend {settings.backend!r} is not available yet")


__all__ = ["Backend", "Request", "open_backend", "request_seed"]
