"""Percentile bootstrap intervals for the certificate's statistics, vectorised with numpy.

A certificate compares systems measured on the same units: reference detoxifiers on the
same test inputs, or LMs on the same prompts. A *paired* bootstrap draws the units once
per resample (with replacement, `resample_indices`; `draw_counts` draws the same
resamples as counts per unit) and evaluates every system on that same draw, so the
interval of a ratio or a difference keeps the correlation between the systems it compares
(an input that is hard for one detoxifier is usually hard for the other). Every statistic
here is a function of per-unit means: `Paired` takes named per-unit columns and computes
their means on the whole sample (the point estimate) and on every resample (one matrix
product with the resample counts); `Paired.estimate` applies a statistic to both. The
interval is the 2.5th and 97.5th percentile of the resampled statistics
(`numpy.percentile`, linear interpolation): the 95% percentile interval. `independent`
does the same for two samples that are not paired (each resampled on its own).

Resamples whose statistic is undefined (a ratio over a zero mean) are left out of the
percentiles; `Estimate.undefined` counts them. With fewer than two units there is no
spread to resample and no interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

LEVEL = 0.95
Statistic = Callable[[Mapping[str, np.ndarray]], np.ndarray]


@dataclass
class Estimate:
    """A point estimate and its percentile interval (`None` when it cannot be computed)."""

    value: float | None
    interval: list[float] | None
    undefined: int = 0


CHUNK = 1 << 20  # indices handled at once: small enough to stay in cache, large enough to vectorise


def resample_indices(units: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, units) unit indices drawn uniformly with replacement by `numpy.random.default_rng(seed)`."""
    return np.random.default_rng(seed).integers(0, units, size=(resamples, units))


def _count_rows(indices: np.ndarray, units: int) -> np.ndarray:
    rows = indices.shape[0]
    offsets = indices + units * np.arange(rows)[:, None]
    return np.bincount(offsets.ravel(), minlength=rows * units).reshape(rows, units)


def resample_counts(indices: np.ndarray, units: int) -> np.ndarray:
    """How often each unit is drawn in each resample: a (resamples, units) float matrix."""
    counts = np.empty(indices.shape, dtype=np.float64)
    step = max(1, CHUNK // max(units, 1))
    for start in range(0, indices.shape[0], step):
        counts[start : start + step] = _count_rows(indices[start : start + step], units)
    return counts


def draw_counts(units: int, resamples: int, seed: int, chunk: int = CHUNK) -> np.ndarray:
    """`resample_counts(resample_indices(units, resamples, seed), units)`, drawn a block of rows at a time.

    The generator's stream is consumed in the same order, so the counts are the same; only
    the memory of the full index matrix is saved (and the work stays in cache).
    """
    rng = np.random.default_rng(seed)
    counts = np.empty((resamples, units), dtype=np.float64)
    step = max(1, chunk // max(units, 1))
    for start in range(0, resamples, step):
        rows = min(step, resamples - start)
        counts[start : start + rows] = _count_rows(rng.integers(0, units, size=(rows, units)), units)
    return counts


def percentile_interval(draws: np.ndarray, level: float = LEVEL) -> tuple[list[float] | None, int]:
    """The central `level` percentile interval of the finite draws, and how many were not finite."""
    draws = np.asarray(draws, dtype=np.float64)
    finite = draws[np.isfinite(draws)]
    if len(finite) == 0:
        return None, len(draws)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)], int(len(draws) - len(finite))


def _point(statistic: Statistic, means: Mapping[str, np.ndarray]) -> float | None:
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(np.asarray(statistic(means), dtype=np.float64))
    return value if np.isfinite(value) else None


class Paired:
    """Per-unit columns resampled together: their means on the whole sample and on every resample.

    `columns` are aligned per-unit values (one entry per test input or prompt); `counts`
    comes from `draw_counts` (or `resample_counts`) for that many units. All resampled
    means come from one matrix product, so any number of statistics over the same columns
    costs one pass over the counts.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], counts: np.ndarray):
        names = list(columns)
        matrix = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names]) if names else None
        if matrix is None or matrix.shape[0] != counts.shape[1]:
            raise ValueError(f"bootstrap: columns of {None if matrix is None else matrix.shape[0]} units "
                             f"for resamples of {counts.shape[1]}")
        self.units = matrix.shape[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            self.means = {n: np.asarray(m) for n, m in zip(names, matrix.mean(axis=0))}
        self.draws = {}
        if self.units >= 2:
            resampled = counts @ matrix / self.units
            self.draws = {n: resampled[:, i] for i, n in enumerate(names)}

    def estimate(self, statistic: Statistic) -> Estimate:
        """Point estimate and percentile interval of `statistic` of the columns' means.

        `statistic` receives a mapping of column name to mean, as 0-d arrays for the point
        estimate and as one value per resample for the draws, and must work elementwise on both.
        """
        point = _point(statistic, self.means)
        if not self.draws:
            return Estimate(point, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            draws = statistic(self.draws)
        interval, undefined = percentile_interval(draws)
        return Estimate(point, interval, undefined)


def bootstrap(columns: Mapping[str, np.ndarray], statistic: Statistic, counts: np.ndarray) -> Estimate:
    """`Paired(columns, counts).estimate(statistic)`: one statistic of paired per-unit columns."""
    return Paired(columns, counts).estimate(statistic)


def independent(columns: Mapping[str, np.ndarray], statistic: Statistic, resamples: int, seed: int) -> Estimate:
    """Like `bootstrap`, for columns of different samples: each column is resampled on its own.

    Used where the two sides are not paired (a synthetic corpus against the human one).
    Column k is drawn with seed `seed + k`, in the mapping's order.
    """
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}
    point = _point(statistic, {name: np.asarray(values.mean()) if len(values) else np.asarray(np.nan)
                               for name, values in arrays.items()})
    if any(len(values) < 2 for values in arrays.values()):
        return Estimate(point, None)
    means = {name: draw_counts(len(values), resamples, seed + offset) @ values / len(values)
             for offset, (name, values) in enumerate(arrays.items())}
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = statistic(means)
    interval, undefined = percentile_interval(draws)
    return Estimate(point, interval, undefined)


def ratio(numerator: str, denominator: str) -> Statistic:
    """The statistic mean(numerator) / mean(denominator)."""
    return lambda m: m[numerator] / m[denominator]


def difference(minuend: str, subtrahend: str) -> Statistic:
    """The statistic mean(minuend) - mean(subtrahend)."""
    return lambda m: m[minuend] - m[subtrahend]


def mean_of(column: str) -> Statistic:
    """The statistic mean(column)."""
    return lambda m: m[column]
