#!/usr/bin/env bash
# Rehearse every recipe of recipes/full on CPU through a miniature Hub (factory/hubsim):
# builds the miniatures (cached in data/hubsim), serves them on 127.0.0.1, and runs each recipe
# end to end with `factory run` at small sizes, vLLM recipes on the real vLLM CPU engine, one on
# a local Ray. Pass recipe files to rehearse only those. Last line: JSON summary; exit 1 on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python)}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -m factory.hubsim.rehearse "$@"
