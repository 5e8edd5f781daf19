"""Benchmark the row stages ingest -> filter -> mix against the bare dedupe kernel, in one run.

    PYTHONPATH=. .venv/bin/python bench/stages.py [--rows 1000000] [--human ROWS] [--work DIR]

Data (deterministic, no files needed): a pool of sentences of made-up words (seeded), then
bench/dedup_data.make_corpus families of near-duplicates built from it. `--rows` synthetic
pair rows (the toxic side is the generated one, as in `toxify`) are written as the generate
stage's rows.parquet; `--human` pairs (default rows / 4) from a second corpus of the same
pool are the human TSV the ingest stage reads, so the filter also finds contamination.

Phases, each in a fresh process (so each has its own peak memory): `kernel` is
`factory.filter.minhash.dedupe` on the synthetic texts, already in memory (the bare kernel);
`ingest`, `filter`, `mix` are the stages' `run` on the same data, in pipeline order, each
timed from its call to its return (reading and writing Parquet and JSON included).
Memory: `peak_mb` is the phase process's peak resident set (`getrusage` ru_maxrss), which
includes the interpreter, the imports and (kernel) the input texts; `start_mb` is its
resident set just before the timed call, so `peak_mb - start_mb` is what the phase added.
The data are made in a child process as well (ru_maxrss counts what a forked child inherited).

The filter stage calls more than one dedupe pass (exact duplicates, dedupe, contamination
against the test split on both sides of the rows, again for the human train split and the
kept rows in its report, and the diversity report of both sides); the filter phase times
those algorithm calls (`ALGORITHMS`) inside the stage, so the rest is the stages' own row
and table work (reading, converting, marking drops, writing, counting).

Printed: one line per phase, then `stages_vs_kernel` = (ingest + filter + mix) / kernel,
`overhead_vs_kernel` = (stages - kernel) / kernel, the time the stages add around one
dedupe pass (the issue's goal: at most 1), and `row_work_vs_kernel` = (stages - the filter's
algorithm time) / kernel. Ratios of wall times taken in the same run (`stages_vs_kernel_cpu`:
of CPU times, steadier when other work shares the machine); no assertion, the machine is
shared (`load_average` is printed). Last line: JSON.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_data import make_corpus  # noqa: E402

PHASES = ("kernel", "ingest", "filter", "mix")
NAME = "bench"
RATIOS = [0.0, 0.25, 0.5, 0.75, 1.0]


def sentence_pool(size: int = 20_000, seed: int = 0) -> list[str]:
    """`size` distinct sentences of 6-24 made-up words from a Zipf-like vocabulary of 30k words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(30_000)})
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    pool: set[str] = set()
    while len(pool) < size:
        pool.add(" ".join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(6, 24))))
    return sorted(pool)


def recipe(work: Path):
    """The benchmark recipe: a toxify recipe reading the generated TSV, the tiny recipe's filter settings."""
    from factory.recipe import Recipe

    return Recipe(name=NAME, kind="toxify", seed=13,
                  human={"source": str(work / "human.tsv"), "neutral_columns": ["neutral1"], "test_fraction": 0.2},
                  filter={"minhash": {"threshold": 0.7, "num_perm": 128, "shingle": "word", "ngram": 2}},
                  mix={"ratios": RATIOS})


def make_data(work: Path, rows: int, human: int) -> None:
    """Write the human TSV and the generate stage's rows.parquet under `work` (skipped when present)."""
    from factory.core.layout import Layout
    from factory.core.records import Record, write_records

    marker = work / f"data-{rows}-{human}.done"
    if marker.exists():
        return
    pool = sentence_pool()
    toxic, _ = make_corpus(pool, rows, seed=1)
    neutral, _ = make_corpus(pool, rows, seed=2)
    records = [Record.make("pair", toxic=t, neutral=n, source="synthetic:toxify", recipe=NAME,
                           attributes={"synthetic_side": "toxic", "attempt": i % 3})
               for i, (t, n) in enumerate(zip(toxic, neutral))]
    write_records(Layout(work / "data").generated(NAME) / "rows.parquet", records)
    human_toxic, _ = make_corpus(pool, human, seed=3)
    human_neutral, _ = make_corpus(pool, human, seed=4)
    with open(work / "human.tsv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["toxic", "neutral1"])
        writer.writerows(zip(human_toxic, human_neutral))
    marker.write_text("ok\n")


def rss_mb() -> float:
    """This process's current resident set in MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


ALGORITHMS = ("exact_duplicates", "dedupe", "contamination", "corpus_report", "select_diverse")
"""The algorithm calls of the filter stage (factory/filter/), timed inside the stage to split its time."""


def time_algorithms(module) -> dict[str, list[float]]:
    """Wrap the filter stage's algorithm functions with timers; return {name: [seconds, calls]}."""
    spent: dict[str, list[float]] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = spent.setdefault(name, [0.0, 0])
                entry[0] += time.perf_counter() - start
                entry[1] += 1
        return wrapper

    for name in ALGORITHMS:
        setattr(module, name, timed(name, getattr(module, name)))
    return spent


def run_phase(phase: str, work: Path) -> dict:
    """Time one phase in this process; return seconds, CPU seconds and memory."""
    import pyarrow.parquet as pq

    from factory.filter.minhash import dedupe
    from factory.stages import filter as filter_stage, ingest, mix

    rec, root = recipe(work), work / "data"
    spent = time_algorithms(filter_stage) if phase == "filter" else {}
    if phase == "kernel":
        texts = pq.read_table(root / "generated" / NAME / "rows.parquet", columns=["toxic"])["toxic"].to_pylist()
        call = lambda: dedupe(texts, rec.filter.minhash)  # noqa: E731
    else:
        stage = {"ingest": ingest, "filter": filter_stage, "mix": mix}[phase]
        call = lambda: stage.run(rec, root=root)  # noqa: E731
    start_mb = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"phase": phase, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
              "start_mb": round(start_mb), "peak_mb": round(peak_mb)}
    if spent:
        result["algorithms"] = {name: {"seconds": round(t, 2), "calls": n} for name, (t, n) in sorted(spent.items())}
        result["algorithm_seconds"] = round(sum(t for t, _ in spent.values()), 2)
    return result


def child(phase: str, work: Path) -> dict:
    """Run one phase in a fresh Python process and return its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--phase", phase, "--work", str(work)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(results: list[dict], rows: int, human: int) -> dict:
    """The ratios the benchmark reports."""
    by = {r["phase"]: r for r in results}
    kernel = by["kernel"]["seconds"]
    stages = sum(by[p]["seconds"] for p in ("ingest", "filter", "mix"))
    algorithms = by["filter"]["algorithm_seconds"]
    stages_cpu = sum(by[p]["cpu_seconds"] for p in ("ingest", "filter", "mix"))
    return {"rows": rows, "human_rows": human, "kernel_seconds": kernel, "stages_seconds": round(stages, 2),
            "stages_vs_kernel": round(stages / kernel, 2), "overhead_vs_kernel": round((stages - kernel) / kernel, 2),
            "stages_vs_kernel_cpu": round(stages_cpu / by["kernel"]["cpu_seconds"], 2),
            "filter_vs_kernel": round(by["filter"]["seconds"] / kernel, 2),
            "filter_algorithm_seconds": algorithms,
            "row_work_vs_kernel": round((stages - algorithms) / kernel, 2),
            "peak_mb": {p: by[p]["peak_mb"] for p in PHASES}, "load_average": [round(x, 1) for x in os.getloadavg()]}


def main() -> None:
    """Make the data, run the four phases, print one line each and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic rows (generate's output)")
    parser.add_argument("--human", type=int, default=None, help="human pairs in the TSV (default rows / 4)")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: a new temporary one)")
    parser.add_argument("--phase", choices=("data", *PHASES), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "data":
        make_data(args.work, args.rows, args.human)
        return
    if args.phase:
        print(json.dumps(run_phase(args.phase, args.work)))
        return
    human = args.human or max(args.rows // 4, 100)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-stages-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # in a child too: a child forked from a parent holding the data would inherit its peak RSS
    subprocess.run([sys.executable, __file__, "--phase", "data", "--work", str(work), "--rows", str(args.rows),
                    "--human", str(human)], check=True)
    print(f"data: {args.rows} synthetic rows, {human} human pairs in {work} "
          f"({time.perf_counter() - started:.1f} s to make)", flush=True)
    results = []
    for phase in PHASES:
        results.append(child(phase, work))
        r = results[-1]
        print(f"{phase:>7}: {r['seconds']:8.2f} s wall, {r['cpu_seconds']:8.2f} s CPU, "
              f"rss {r['start_mb']} MB at start, peak {r['peak_mb']} MB", flush=True)
        for name, spent in r.get("algorithms", {}).items():
            print(f"{'':>9}{name}: {spent['seconds']:.2f} s in {spent['calls']} calls", flush=True)
    print(json.dumps(summary(results, args.rows, human)))


if __name__ == "__main__":
    main()
