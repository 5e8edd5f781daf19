"""Lexical diversity of a corpus, and diversity-aware selection of a subset.

Tokens are `factory.core.text.words` (NFKC, lower-case, regex `\\w+|[^\\w\\s]`). n-grams never
cross row boundaries.

- distinct-n: unique n-grams / all n-grams over the corpus (0.0 when there are none).
- MATTR (moving-average type/token ratio): the tokens of all rows concatenated in input
  order, the type/token ratio of every window of 50 consecutive tokens, averaged; with
  fewer than 50 tokens, the plain type/token ratio.
- Toxic terms: occurrences of lexicon terms (a term of several words matches that
  sequence of tokens). Entropy (bits) of the distribution of occurrences over terms, and
  the top-k share: the fraction of all occurrences taken by the k most frequent terms
  (low entropy / high share = a few insults repeated). Without a lexicon the
  built-in `DEFAULT_LEXICON` is used: a short list of common English profanity and
  insults with their usual inflections, enough for a first look; give the recipe a
  lexicon file (`filter.diversity.lexicon`) for a real study.
- Cluster-size histogram: near-duplicate clusters counted by size, in bins
  1, 2, 3-4, 5-9, 10-99, 100+.

`select_diverse` is a lazy greedy maximiser of coverage: each row is worth the number of
its distinct word bigrams not yet covered plus, for each toxic-term occurrence in it,
1 / (1 + times the term was already selected); at most `cluster_cap` rows per
near-duplicate cluster; ties broken by a seeded random order.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from itertools import chain
from typing import Sequence

import numpy as np

from factory.core.text import words

MATTR_WINDOW = 50
CLUSTER_BINS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 99), (100, None))
DEFAULT_LEXICON = (
    "fuck", "fucking", "fucked", "fucker", "fuckers", "fck", "f*ck", "motherfucker", "shit", "shitty",
    "bullshit", "crap", "crappy", "damn", "damned", "hell", "ass", "asses", "asshole", "assholes",
    "bitch", "bitches", "bastard", "bastards", "dick", "dicks", "piss", "pissed", "idiot", "idiots",
    "idiotic", "stupid", "stupidity", "dumb", "dumbass", "moron", "morons", "moronic", "fool", "fools",
    "foolish", "loser", "losers", "jerk", "jerks", "scum", "trash", "garbage", "pathetic", "ignorant",
    "suck", "sucks", "shut up", "screw you", "hypocrite", "hypocrites", "liar", "liars", "clown",
    "clowns", "coward", "cowards", "disgusting", "worthless",
)


def _tokenise(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(token ids, row of each token, vocabulary in first-seen order) of the corpus."""
    lists = [words(t) for t in texts]
    flat = list(chain.from_iterable(lists))
    vocab = {token: index for index, token in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    rows = np.repeat(np.arange(len(lists), dtype=np.int64),
                     np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))
    return ids, rows, vocab


def _ngrams(ids: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(dense id of each n-gram, its row); equal n-grams get equal ids."""
    starts = np.arange(max(len(ids) - n + 1, 0))
    starts = starts[rows[starts + n - 1] == rows[starts]] if len(starts) else starts
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = ids[starts]
    for offset in range(1, n):
        _, keys = np.unique(keys, return_inverse=True)
        keys = keys.astype(np.int64) * (int(ids.max()) + 1) + ids[starts + offset]
    if n > 1:
        _, keys = np.unique(keys, return_inverse=True)
    return keys.astype(np.int64), rows[starts]


def _distinct(keys: np.ndarray) -> float:
    return float(len(np.unique(keys)) / len(keys)) if len(keys) else 0.0


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / total n-grams over the corpus (tokens: `factory.core.text.words`)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    ids, rows, _ = _tokenise(texts)
    return _distinct(_ngrams(ids, rows, n)[0])


def mattr(ids: np.ndarray, window: int = MATTR_WINDOW) -> float:
    """Moving-average type/token ratio of a token-id stream (module doc)."""
    total = len(ids)
    if total == 0:
        return 0.0
    if total <= window:
        return len(np.unique(ids)) / total
    order = np.argsort(ids, kind="stable")
    same = ids[order][1:] == ids[order][:-1]
    prev = np.full(total, -1)
    prev[order[1:][same]] = order[:-1][same]
    nxt = np.full(total, total)
    nxt[order[:-1][same]] = order[1:][same]
    s = np.arange(1, total - window + 1)
    lost = nxt[s - 1] > s + window - 2
    gained = prev[s + window - 1] < s
    counts = len(np.unique(ids[:window])) + np.concatenate([[0], np.cumsum(gained.astype(int) - lost)])
    return float(counts.mean() / window)


def _term_hits(ids: np.ndarray, rows: np.ndarray, vocab: dict[str, int],
               lexicon: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(terms, row of each occurrence, term index of each occurrence), in token order."""
    terms = sorted({" ".join(words(t)) for t in lexicon if words(t)})
    by_first: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    for index, term in enumerate(terms):
        tokens = term.split(" ")
        if all(t in vocab for t in tokens):
            by_first.setdefault(vocab[tokens[0]], []).append((index, tuple(vocab[t] for t in tokens)))
    hit_rows, hit_terms = [], []
    firsts = np.fromiter(by_first, dtype=np.int64, count=len(by_first))
    for position in np.flatnonzero(np.isin(ids, firsts)).tolist():
        for index, sequence in by_first[int(ids[position])]:
            end = position + len(sequence)
            if (len(sequence) == 1 or (end <= len(ids) and rows[end - 1] == rows[position]
                                       and tuple(ids[position:end].tolist()) == sequence)):
                hit_rows.append(int(rows[position]))
                hit_terms.append(index)
    return terms, np.asarray(hit_rows, dtype=np.int64), np.asarray(hit_terms, dtype=np.int64)


def _toxic_stats(terms: list[str], hit_terms: np.ndarray, top_k: int) -> dict:
    counts = Counter({terms[t]: int(c) for t, c in enumerate(np.bincount(hit_terms, minlength=len(terms))) if c})
    total = sum(counts.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0
    top = counts.most_common(top_k)
    return {
        "toxic_terms": total,
        "toxic_vocabulary": len(counts),
        "toxic_entropy": entropy,
        "toxic_top_k_share": sum(c for _, c in top) / total if total else 0.0,
        "toxic_top_terms": [[term, count] for term, count in top],
    }


def cluster_histogram(cluster: np.ndarray) -> dict[str, int]:
    """Number of near-duplicate clusters per size bin (1, 2, 3-4, 5-9, 10-99, 100+)."""
    sizes = np.bincount(np.unique(np.asarray(cluster), return_inverse=True)[1]) if len(cluster) else np.zeros(0)
    out = {}
    for low, high in CLUSTER_BINS:
        label = f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
        out[label] = int(((sizes >= low) & (sizes <= (high or np.inf))).sum())
    return out


def corpus_report(texts: Sequence[str], *, lexicon: Sequence[str] | None = None,
                  cluster: np.ndarray | None = None, top_k: int = 10) -> dict:
    """Rows, tokens, vocabulary, distinct-1/2/3, MATTR, toxic-term statistics, cluster sizes."""
    texts = list(texts)
    ids, rows, vocab = _tokenise(texts)
    report = {
        "rows": len(texts),
        "tokens": int(len(ids)),
        "vocabulary": len(vocab),
        **{f"distinct_{n}": _distinct(_ngrams(ids, rows, n)[0]) for n in (1, 2, 3)},
        "mattr": mattr(ids),
        "mattr_window": MATTR_WINDOW,
        **_toxic_stats(*_term_hits(ids, rows, vocab, lexicon if lexicon is not None else DEFAULT_LEXICON)[::2], top_k),
    }
    if cluster is not None:
        report["cluster_sizes"] = cluster_histogram(cluster)
        report["clusters"] = int(len(np.unique(cluster)))
    return report


def _row_items(texts: Sequence[str], lexicon: Sequence[str]) -> tuple[list[list[int]], list[int], list[list[int]]]:
    """Per row: its distinct bigram ids, its bigram count, and its toxic-term ids (per occurrence)."""
    ids, rows, vocab = _tokenise(texts)
    keys, key_rows = _ngrams(ids, rows, 2)
    bounds = np.searchsorted(key_rows, np.arange(len(texts) + 1))
    bigrams = [sorted(set(keys[bounds[i]:bounds[i + 1]].tolist())) for i in range(len(texts))]
    totals = np.diff(bounds).tolist()
    _, hit_rows, hit_terms = _term_hits(ids, rows, vocab, lexicon)
    terms: list[list[int]] = [[] for _ in texts]
    for row, term in zip(hit_rows.tolist(), hit_terms.tolist()):
        terms[row].append(term)
    return bigrams, totals, terms


def select_diverse(texts: Sequence[str], cluster: np.ndarray, *, cluster_cap: int = 1, target_rows: int | None = None,
                   target_distinct2: float | None = None, seed: int = 0,
                   lexicon: Sequence[str] | None = None) -> list[int]:
    """Greedily choose rows that add unseen bigrams / rarer toxic terms; return their indices in choice order.

    At most `cluster_cap` rows per near-duplicate cluster. Stops at `target_rows` rows, or
    before the row that would bring the subset's distinct-2 below `target_distinct2`, or
    (with neither target) when no row adds anything new. Deterministic for a given seed.
    """
    texts = list(texts)
    if len(cluster) != len(texts):
        raise ValueError(f"select_diverse: {len(cluster)} cluster ids for {len(texts)} rows")
    bigrams, totals, terms = _row_items(texts, lexicon if lexicon is not None else DEFAULT_LEXICON)
    covered = bytearray(max((b[-1] for b in bigrams if b), default=-1) + 1)
    term_count = Counter()
    per_cluster = Counter()
    rank = np.random.default_rng(seed).permutation(len(texts)).tolist()
    cluster_ids = np.asarray(cluster).tolist()

    def gain(i: int) -> tuple[int, float]:
        new = len(bigrams[i]) - sum(map(covered.__getitem__, bigrams[i]))
        if not terms[i]:
            return new, float(new)
        return new, new + sum(1.0 / (1 + term_count[t]) for t in terms[i])

    heap = [(-gain(i)[1], rank[i], i) for i in range(len(texts))]
    heapq.heapify(heap)
    chosen: list[int] = []
    unique_total = bigram_total = 0
    while heap and (target_rows is None or len(chosen) < target_rows):
        _, order, i = heapq.heappop(heap)
        if per_cluster[cluster_ids[i]] >= cluster_cap:
            continue
        new, value = gain(i)
        if heap and (-value, order) > heap[0][:2]:
            heapq.heappush(heap, (-value, order, i))
            continue
        if target_rows is None and target_distinct2 is None and value == 0:
            break
        if (target_distinct2 is not None and chosen and bigram_total + totals[i]
                and (unique_total + new) / (bigram_total + totals[i]) < target_distinct2):
            break
        chosen.append(i)
        per_cluster[cluster_ids[i]] += 1
        unique_total, bigram_total = unique_total + new, bigram_total + totals[i]
        for b in bigrams[i]:
            covered[b] = 1
        term_count.update(terms[i])
    return chosen
