#!/usr/bin/env bash
# The main job: set up .venv (with peft: the tiny selfgen recipe trains LoRA adapters), then run
# every recipe of params.yaml with DVC (tiny profile, offline). dvc.yaml is regenerated first
# (`factory pipeline`), so recipes added to params.yaml run too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh peft
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m factory pipeline
dvc repro "$@"
# Per recipe: certified, or the gates that failed (`dvc metrics show`: the numbers, one row per recipe;
# data/report/index.html: the release report).
factory status
