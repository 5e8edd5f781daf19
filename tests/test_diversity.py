"""Diversity metrics on hand-computed examples, and diversity-aware selection."""

from __future__ import annotations

import random

import numpy as np
import pytest

from factory.filter.diversity import cluster_histogram, corpus_report, distinct_n, mattr, select_diverse


def test_distinct_n_hand_computed():
    texts = ["the cat sat", "the cat ran", "a dog"]
    # unigrams: the cat sat the cat ran a dog -> 6 unique of 8
    assert distinct_n(texts, 1) == pytest.approx(6 / 8)
    # bigrams: the-cat, cat-sat, the-cat, cat-ran, a-dog -> 4 unique of 5 (none across rows)
    assert distinct_n(texts, 2) == pytest.approx(4 / 5)
    assert distinct_n(texts, 3) == pytest.approx(1.0)
    assert distinct_n([], 2) == 0.0
    assert distinct_n(["one"], 2) == 0.0


def test_distinct_counts_punctuation_tokens():
    assert distinct_n(["Idiot! idiot!"], 1) == pytest.approx(2 / 4)


def test_mattr_matches_brute_force():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 30, size=400)
    brute = np.mean([len(set(ids[s:s + 50].tolist())) / 50 for s in range(len(ids) - 49)])
    assert mattr(ids) == pytest.approx(brute)
    assert mattr(np.array([1, 1, 2])) == pytest.approx(2 / 3)


def test_corpus_report_toxic_terms_and_clusters():
    texts = ["you idiot", "idiot!", "shut up, idiot", "what a moron", "nice day"]
    report = corpus_report(texts, cluster=np.array([0, 0, 2, 3, 4]), top_k=1)
    assert report["rows"] == 5 and report["tokens"] == 13
    assert report["toxic_terms"] == 5  # idiot x3, shut up, moron
    assert report["toxic_top_terms"] == [["idiot", 3]]
    assert report["toxic_top_k_share"] == pytest.approx(3 / 5)
    p = np.array([3, 1, 1]) / 5
    assert report["toxic_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    assert report["cluster_sizes"]["1"] == 3 and report["cluster_sizes"]["2"] == 1
    assert corpus_report(texts, lexicon=["nice day"])["toxic_terms"] == 1


def test_cluster_histogram_bins():
    cluster = np.array([0] * 12 + [12, 12, 12] + [15])
    assert cluster_histogram(cluster) == {"1": 1, "2": 0, "3-4": 1, "5-9": 0, "10-99": 1, "100+": 0}


def _toy_corpus(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    common = ["you are so stupid", "you are an idiot", "this is stupid", "what an idiot"]
    vocabulary = [f"w{i}" for i in range(300)]
    rare = [" ".join(rng.choice(vocabulary) for _ in range(6)) for _ in range(60)]
    mixed = [rng.choice(common) for _ in range(140)] + rare
    rng.shuffle(mixed)
    return mixed


def test_select_diverse_beats_random_subset():
    texts = _toy_corpus()
    size = len(texts) // 2
    chosen = select_diverse(texts, np.arange(len(texts)), target_rows=size, seed=1)
    assert len(chosen) == size == len(set(chosen))
    rng = np.random.default_rng(1)
    random_d2 = np.mean([distinct_n([texts[i] for i in rng.choice(len(texts), size, replace=False)], 2)
                         for _ in range(5)])
    assert distinct_n([texts[i] for i in chosen], 2) > random_d2 + 0.2


def test_select_diverse_cluster_cap_and_stops():
    texts = ["a b c", "a b c d", "x y z", "p q r"]
    cluster = np.array([0, 0, 2, 3])
    chosen = select_diverse(texts, cluster, cluster_cap=1)
    assert sorted(chosen) in ([0, 2, 3], [1, 2, 3])
    assert (select_diverse(texts, cluster, cluster_cap=1, seed=3)
            == select_diverse(texts, cluster, cluster_cap=1, seed=3))
    # without targets it stops when nothing new is added: duplicates never picked twice
    assert len(select_diverse(["a b"] * 5, np.arange(5))) == 1
    assert len(select_diverse(texts, np.arange(4), target_rows=2)) == 2


def test_select_diverse_target_distinct2():
    texts = ["a b c", "a b d", "a b e", "a b f"]
    chosen = select_diverse(texts, np.arange(4), target_distinct2=0.8)
    kept = [texts[i] for i in chosen]
    assert distinct_n(kept, 2) >= 0.8
    assert len(chosen) < 4


def test_select_diverse_prefers_rare_toxic_terms():
    texts = ["idiot", "idiot", "moron"]
    chosen = select_diverse(texts, np.arange(3), target_rows=2, seed=0)
    assert sorted(texts[i] for i in chosen) == ["idiot", "moron"]
