"""Benchmark the Ray Data MinHash dedupe against the local engine on this machine.

    .venv/bin/python bench/ray_dedup.py [--rows 20000] [--cpus 2]

Data: bench/dedup_data.py (ParaDetox-length sentences from ../shared/data, or the package's
seed sentences where that is absent, plus synthetic near-duplicates with known edits).
Each engine runs in a fresh process on the same texts with the same settings (threshold
0.7, 128 permutations, word bigrams, keep first):

- local: `factory.filter.minhash.dedupe`, in process;
- ray: `factory.engines.ray_dedupe.dedupe` on a local Ray started with `--cpus` CPUs
  (signature tasks: 2 at a time, 5,000 rows per batch; 4 shuffle partitions). It runs
  twice: `cold` includes starting the pipeline's workers, `warm` reuses them.

rows/s is rows divided by the wall seconds of the dedupe call (Ray's own start-up is
reported apart as `ray_init_s`); `ray_vs_local` = warm Ray rows/s / local rows/s (below 1:
Ray is slower here - on one small machine it pays for its shuffles, process hops and
serialisation and gains no extra cores). Memory: this script samples, every 0.1 s, the
proportional set size (PSS, shared pages split between the processes that map them) of
the engine process and all its descendants (for Ray: the driver, raylet, GCS, object
store and workers) and reports the peak as `peak_mb_*`. `identical` says whether both
engines kept the same rows with the same clusters. The machine may be shared with other
work: `load_average` is printed. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_data import SHARED, file_sentences, make_corpus, shared_sentences  # noqa: E402

SEED_TEXT = Path(__file__).resolve().parent.parent / "factory" / "data" / "seed" / "neutral.txt"


def corpus(rows: int) -> list[str]:
    """The benchmark texts: real base sentences where ../shared/data exists, else the seed corpus."""
    pool = shared_sentences() if SHARED.is_dir() else file_sentences(SEED_TEXT)[0]
    return make_corpus(pool, rows, seed=0)[0]


def tree_pss_mb(root: int) -> float:
    """PSS in MB of process `root` and all its descendants (0 for processes that are gone)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    family, queue, total = set(), [root], 0.0
    while queue:
        pid = queue.pop()
        family.add(pid)
        queue.extend(children.get(pid, []))
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def measure(args: list[str]) -> tuple[dict, float]:
    """Run this script with `args` in a child process; return its JSON line and the tree's peak PSS."""
    child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss_mb(child.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{args[:2]} failed with exit code {child.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak[0]


def run_engine(engine_name: str, rows: int, cpus: int, result_file: Path) -> None:
    """Child process: dedupe the corpus on one engine; print timings as JSON, save the decisions."""
    from factory.recipe.filter import MinHashSettings

    texts = corpus(rows)
    settings = MinHashSettings(threshold=0.7, num_perm=128, shingle="word", ngram=2, keep="first")
    report: dict = {}
    if engine_name == "local":
        from factory.filter.minhash import dedupe

        start = time.perf_counter()
        result = dedupe(texts, settings)
        report["seconds"] = time.perf_counter() - start
    else:
        import ray

        from factory.engines.ray_dedupe import dedupe
        from factory.recipe.engine import Engine, StageResources

        engine = Engine(name="ray", dedupe=StageResources(num_cpus=1, concurrency=2, batch_size=5000),
                        shuffle_partitions=4)
        start = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        report["ray_init_s"] = time.perf_counter() - start
        for run in ("cold", "warm"):
            start = time.perf_counter()
            result = dedupe(texts, settings, engine=engine)
            report[f"seconds_{run}"] = time.perf_counter() - start
        ray.shutdown()
    np.savez(result_file, cluster=result.cluster, keep=result.keep)
    print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the corpus")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--engine", choices=["local", "ray"], help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        run_engine(args.engine, args.rows, args.cpus, args.result)
        return
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp) / f"{name}.npz" for name in ("local", "ray")}
        local, local_mb = measure(["--engine", "local", "--rows", str(args.rows), "--result", str(files["local"])])
        on_ray, ray_mb = measure(["--engine", "ray", "--rows", str(args.rows), "--cpus", str(args.cpus),
                                  "--result", str(files["ray"])])
        a, b = np.load(files["local"]), np.load(files["ray"])
        identical = bool((a["cluster"] == b["cluster"]).all() and (a["keep"] == b["keep"]).all())
    rps = {"local": args.rows / local["seconds"], "ray_cold": args.rows / on_ray["seconds_cold"],
           "ray_warm": args.rows / on_ray["seconds_warm"]}
    summary = {
        "rows": args.rows, "ray_cpus": args.cpus, "identical": identical,
        "rows_per_s_local": round(rps["local"], 1), "rows_per_s_ray_cold": round(rps["ray_cold"], 1),
        "rows_per_s_ray_warm": round(rps["ray_warm"], 1), "ray_init_s": round(on_ray["ray_init_s"], 1),
        "peak_mb_local": round(local_mb, 1), "peak_mb_ray": round(ray_mb, 1),
        "ray_vs_local": round(rps["ray_warm"] / rps["local"], 5),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for key, value in summary.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
