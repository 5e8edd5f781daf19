"""Shared fixtures: a tiny zoo built once per session, and fresh data roots that use it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    """Skip `realdata` tests where ../shared/data is absent."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory) -> Path:
    """A tiny zoo built at 2% of the normal training steps (seconds)."""
    from factory.models.zoo import build

    return build(tmp_path_factory.mktemp("zoo") / "zoo", seed=0, scale=0.02)


@pytest.fixture
def data_root(tmp_path, zoo_dir, monkeypatch) -> Path:
    """A fresh pipeline data folder whose models/zoo is the session's tiny zoo (also `factory --zoo`'s,
    through $FACTORY_ZOO, since the CLI's zoo does not move with --root)."""
    root = tmp_path / "data"
    (root / "models").mkdir(parents=True)
    (root / "models" / "zoo").symlink_to(zoo_dir, target_is_directory=True)
    monkeypatch.setenv("FACTORY_ZOO", str(zoo_dir))
    return root


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (tests using it are marked realdata)."""
    return SHARED_DATA


def copy_recipe(name: str, dest: Path, **changes) -> Path:
    """Copy recipes/tiny/<name>.yaml to `dest`, for tests that edit recipes."""
    target = dest / f"{name}.yaml"
    shutil.copyfile(REPO / "recipes" / "tiny" / f"{name}.yaml", target)
    return target
