"""The bootstrap behind the certificate's intervals, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from factory.core import bootstrap


def _percentile(values: list[float], q: float) -> float:
    """numpy's default ('linear') percentile, by hand: rank q/100 * (n - 1) between sorted neighbours."""
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def test_paired_ratio_interval_equals_a_plain_python_loop_over_the_same_resamples():
    rng = np.random.default_rng(5)
    human = rng.uniform(0, 1, 37).tolist()
    mix = [min(1.0, h * 0.8 + d) for h, d in zip(human, rng.uniform(0, 0.2, 37))]
    indices = bootstrap.resample_indices(37, 1000, seed=3)
    estimate = bootstrap.bootstrap({"c": np.array(mix), "h": np.array(human)}, bootstrap.ratio("c", "h"),
                                   bootstrap.resample_counts(indices, 37))
    ratios = []
    for draw in indices.tolist():  # one resample of the inputs, both systems on it: paired
        ratios.append(sum(mix[i] for i in draw) / sum(human[i] for i in draw))
    assert estimate.value == pytest.approx(sum(mix) / sum(human), rel=1e-12)
    assert estimate.interval == pytest.approx([_percentile(ratios, 2.5), _percentile(ratios, 97.5)], rel=1e-12)
    assert estimate.undefined == 0


def test_independent_resampling_equals_a_loop_with_one_seed_per_column():
    synthetic, human = [0.2, 0.5, 0.9, 0.4, 0.7], [0.6, 0.8, 0.7, 0.9]
    estimate = bootstrap.independent({"s": np.array(synthetic), "h": np.array(human)}, bootstrap.ratio("s", "h"),
                                     resamples=1000, seed=11)
    draws_s = bootstrap.resample_indices(5, 1000, 11).tolist()
    draws_h = bootstrap.resample_indices(4, 1000, 12).tolist()
    ratios = [(sum(synthetic[i] for i in a) / 5) / (sum(human[i] for i in b) / 4) for a, b in zip(draws_s, draws_h)]
    assert estimate.interval == pytest.approx([_percentile(ratios, 2.5), _percentile(ratios, 97.5)], rel=1e-12)


def test_known_cases_constant_scores_and_a_proportion():
    counts = bootstrap.resample_counts(bootstrap.resample_indices(50, 1000, 0), 50)
    constant = bootstrap.bootstrap({"x": np.full(50, 0.3)}, bootstrap.mean_of("x"), counts)
    assert constant.value == pytest.approx(0.3) and constant.interval == pytest.approx([0.3, 0.3])
    # a proportion p over n units: the normal approximation p -+ 1.96 sqrt(p (1 - p) / n)
    n, p = 2000, 0.3
    hits = np.zeros(n)
    hits[: int(n * p)] = 1.0
    counts = bootstrap.resample_counts(bootstrap.resample_indices(n, 4000, 1), n)
    low, high = bootstrap.bootstrap({"x": hits}, bootstrap.mean_of("x"), counts).interval
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    assert low == pytest.approx(p - half, abs=0.003) and high == pytest.approx(p + half, abs=0.003)


def test_resample_counts_count_every_draw():
    indices = bootstrap.resample_indices(6, 20, seed=2)
    counts = bootstrap.resample_counts(indices, 6)
    assert counts.shape == (20, 6) and (counts.sum(axis=1) == 6).all()
    assert counts[3].tolist() == [float(list(indices[3]).count(i)) for i in range(6)]
    assert (bootstrap.resample_indices(6, 20, seed=2) == indices).all()  # seeded


def test_no_interval_without_spread_to_resample_and_undefined_draws_are_counted():
    one = bootstrap.resample_counts(bootstrap.resample_indices(1, 1000, 0), 1)
    assert bootstrap.bootstrap({"x": np.array([0.4])}, bootstrap.mean_of("x"), one) == bootstrap.Estimate(0.4, None)
    counts = bootstrap.resample_counts(bootstrap.resample_indices(3, 1000, 0), 3)
    mostly_zero = bootstrap.bootstrap({"a": np.array([1.0, 1.0, 1.0]), "b": np.array([0.0, 0.0, 1.0])},
                                      bootstrap.ratio("a", "b"), counts)
    expected_undefined = int((bootstrap.resample_indices(3, 1000, 0) != 2).all(axis=1).sum())
    assert mostly_zero.undefined == expected_undefined > 0 and mostly_zero.value == pytest.approx(3.0)


@pytest.mark.parametrize("chunk", [1, 7, 100, 1 << 20])
def test_counts_drawn_in_blocks_are_the_resamples_of_the_index_matrix(chunk):
    expected = bootstrap.resample_counts(bootstrap.resample_indices(13, 50, seed=4), 13)
    assert (bootstrap.draw_counts(13, 50, seed=4, chunk=chunk) == expected).all()
