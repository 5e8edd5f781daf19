"""Joining a Ray cluster for the `ray` engine (ray is imported only when a function runs)."""

from __future__ import annotations

from typing import Any

from factory.core.errors import FactoryError
from factory.recipe.engine import Engine, StageResources


def connect(engine: Engine) -> Any:
    """Join the cluster at `engine.address` (None: start or join a Ray on this machine); return `ray`.

    A process that already called `ray.init` keeps its session (and its environment);
    `engine.env` only applies to a session started here.
    """
    try:
        import ray
    except ImportError as error:
        raise FactoryError("engine.name: ray needs the ray extra (pip install 'detox-factory[ray]')") from error
    if not ray.is_initialized():
        runtime_env = {"env_vars": dict(engine.env)} if engine.env else None
        try:
            ray.init(address=engine.address, runtime_env=runtime_env, logging_level="WARNING")
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise FactoryError(f"engine.address: cannot join the Ray cluster at {engine.address!r} "
                               f"({error})") from error
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def task_kwargs(resources: StageResources) -> dict[str, Any]:
    """`map_batches` keyword arguments of a stateless stage with these resources
    (a task pool of `concurrency` tasks at a time; Ray 2.51 deprecated `concurrency=`)."""
    import ray.data

    kwargs: dict[str, Any] = {"num_cpus": resources.num_cpus,
                              "compute": ray.data.TaskPoolStrategy(size=resources.concurrency)}
    if resources.num_gpus:
        kwargs["num_gpus"] = resources.num_gpus
    return kwargs
