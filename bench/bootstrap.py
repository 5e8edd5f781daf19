"""Benchmark the certificate's paired bootstrap: what `certify` does per pair recipe.

    .venv/bin/python bench/bootstrap.py [--resamples 1000 2000] [--inputs 1000 3000 5000] [--repeat 5]

For each (resamples, inputs): draw the seeded resample counts once, then the 95% intervals
of J of six systems, the reference margin (a difference) and the J ratio (a ratio), all
paired on the same draw. Prints the best of `--repeat` wall-clock times in seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from factory.core import bootstrap


def one_certificate(columns: dict[str, np.ndarray], resamples: int) -> None:
    """The bootstrap work of one certificate of a pair recipe."""
    units = len(next(iter(columns.values())))
    paired = bootstrap.Paired(columns, bootstrap.draw_counts(units, resamples, 0))
    for name in columns:
        paired.estimate(bootstrap.mean_of(name))
    paired.estimate(bootstrap.difference("ratio-0.00", "identity"))
    paired.estimate(bootstrap.ratio("ratio-1.00", "ratio-0.00"))


def main() -> None:
    """Time `one_certificate` over the grid of sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--inputs", type=int, nargs="+", default=[1000, 3000, 5000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    systems = ["identity", "ratio-0.00", "ratio-0.25", "ratio-0.50", "ratio-0.75", "ratio-1.00"]
    for resamples in args.resamples:
        for inputs in args.inputs:
            columns = {name: rng.uniform(0, 1, inputs) for name in systems}
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                one_certificate(columns, resamples)
                times.append(time.perf_counter() - start)
            print(f"resamples {resamples:5d}  inputs {inputs:5d}  seconds {min(times):.3f}")


if __name__ == "__main__":
    main()
