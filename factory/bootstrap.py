"""Percentile bootstrap intervals for the certificate's statistics, vectorised with numpy.

A certificate compares systems measured on the same units: reference detoxifiers on the
same test inputs, or LMs on the same prompts. A *paired* bootstrap draws the units once
per resample (with replacement, `resample_indices`) and evaluates every system on that
same draw, so the interval of a ratio or a difference keeps the correlation between the
systems it compares (an input that is hard for one detoxifier is usually hard for the
other). Every statistic here is a function of per-unit means: `bootstrap` takes named
per-unit columns, computes their means on the whole sample (the point estimate) and on
every resample (a matrix product with the resample counts), and applies the statistic to
both. The interval is the 2.5th and 97.5th percentile of the resampled statistics
(`numpy.percentile`, linear interpolation): the 95% percentile interval.

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


def resample_indices(units: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, units) unit indices drawn uniformly with replacement by `numpy.random.default_rng(seed)`."""
    return np.random.default_rng(seed).integers(0, units, size=(resamples, units))


def resample_counts(indices: np.ndarray, units: int) -> np.ndarray:
    """How often each unit is drawn in each resample: a (resamples, units) float matrix."""
    resamples = indices.shape[0]
    offsets = indices + units * np.arange(resamples)[:, None]
    return np.bincount(offsets.ravel(), minlength=resamples * units).reshape(resamples, units).astype(np.float64)


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


def bootstrap(columns: Mapping[str, np.ndarray], statistic: Statistic, counts: np.ndarray) -> Estimate:
    """Point estimate and percentile interval of `statistic` of the per-unit `columns`' means.

    `columns` are aligned per-unit values (one entry per test input or prompt); `counts`
    comes from `resample_counts` for that many units. `statistic` receives a mapping of
    column name to mean, as 0-d arrays for the point estimate and as one value per
    resample for the draws, and must work elementwise on both.
    """
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}
    units = {len(values) for values in arrays.values()}
    if len(units) != 1 or counts.shape[1] != next(iter(units)):
        raise ValueError(f"bootstrap: columns of {sorted(units)} units for resamples of {counts.shape[1]}")
    point = _point(statistic, {name: np.asarray(values.mean()) for name, values in arrays.items()})
    if counts.shape[1] < 2:
        return Estimate(point, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = statistic({name: counts @ values / counts.shape[1] for name, values in arrays.items()})
    interval, undefined = percentile_interval(draws)
    return Estimate(point, interval, undefined)


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
    means = {}
    for offset, (name, values) in enumerate(arrays.items()):
        counts = resample_counts(resample_indices(len(values), resamples, seed + offset), len(values))
        means[name] = counts @ values / len(values)
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
