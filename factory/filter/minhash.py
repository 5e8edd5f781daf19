"""Exact and MinHash near-duplicate detection, and decontamination against reference rows.

Pipeline (datatrove's four steps, vectorised with numpy): normalise every text
(`factory.text.normalise`), cut it into shingles (word or character n-grams), hash each
shingle once, apply `num_perm` affine permutations to whole blocks of shingle hashes and
min-reduce them per row (`signatures`); hash every band of `rows` signature values to a
bucket key, take rows sharing a bucket as candidates, verify each candidate pair by its
estimated Jaccard similarity >= threshold, and join verified pairs into clusters
(`clusters`); keep one row per cluster (`dedupe`). Kernels and formulas are in
`factory.filter.sketch` (hashing) and `factory.filter.lsh` (banding).

Defined behaviour on bad input: an empty (or all-punctuation) text has no shingle and
the signature 2^32 - 1 in every slot (datasketch's empty MinHash), so empty texts are
near-duplicates of each other and of nothing else; NUL and other control characters
are spaces; 1 MB lines cost time linear in their length; a non-string row raises
`FactoryError` naming the row.

Signatures are datasketch-compatible: `to_datasketch(row)` is a `LeanMinHash`
(scheme "affine32") that `MinHashLSH` indexes and queries and whose `jaccard()` equals
ours; `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` updated with
`shingles(text)` holds the very same hash values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from factory.errors import FactoryError
from factory.filter import lsh
from factory.filter.sketch import (EMPTY, char_spans, fmix32, min_hash_rows, permutations, shingle_hash,
                                   span_hashes, word_spans)
from factory.recipe.filter import MinHashSettings
from factory.text import normalise, normalise_many, normalised_codepoints

if TYPE_CHECKING:
    import datasketch

__all__ = ["LshParams", "DedupeResult", "optimal_params", "shingles", "signatures", "clusters", "dedupe",
           "exact_duplicates", "contamination", "to_datasketch", "shingle_hash"]

CHUNK_CHARS = 1_000_000
CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class LshParams:
    """LSH banding: `bands` bands of `rows` signature values each, tuned for `threshold`."""

    threshold: float
    num_perm: int
    bands: int
    rows: int


@functools.lru_cache(maxsize=8)
def _gauss_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(nodes)


def _integral(func, lower: float, upper: float, nodes: int) -> np.ndarray:
    x, w = _gauss_legendre(nodes)
    half = (upper - lower) / 2
    return (func(lower + half * (x + 1)) * (w * half)).sum(axis=1)


def optimal_params(threshold: float, num_perm: int, false_positive_weight: float = 0.5) -> LshParams:
    """Bands x rows (bands * rows <= num_perm) minimising the weighted FP and FN probability.

    FP = integral over s in [0, threshold] of P(candidate | Jaccard s) = 1 - (1 - s^r)^b,
    FN = integral over s in [threshold, 1] of 1 - P(candidate | s); the choice minimises
    w * FP + (1 - w) * FN over all (b, r), first minimum in (b, r) order, like datasketch's
    search. The integrands are polynomials of degree b * r <= num_perm, so Gauss-Legendre
    quadrature with num_perm // 2 + 1 nodes computes them exactly.
    """
    if not 0.0 <= threshold <= 1.0 or not 0.0 <= false_positive_weight <= 1.0 or num_perm < 1:
        raise ValueError(f"bad LSH settings: threshold={threshold}, num_perm={num_perm}, "
                         f"false_positive_weight={false_positive_weight}")
    bands = np.concatenate([np.full(num_perm // b, b) for b in range(1, num_perm + 1)])[:, None]
    rows = np.concatenate([np.arange(1, num_perm // b + 1) for b in range(1, num_perm + 1)])[:, None]
    nodes = num_perm // 2 + 1
    fp = _integral(lambda s: 1 - (1 - s ** rows) ** bands, 0.0, threshold, nodes)
    fn = _integral(lambda s: (1 - s ** rows) ** bands, threshold, 1.0, nodes)
    best = int(np.argmin(false_positive_weight * fp + (1 - false_positive_weight) * fn))
    return LshParams(float(threshold), num_perm, int(bands[best, 0]), int(rows[best, 0]))


def shingles(text: str, shingle: str = "word", ngram: int = 2) -> list[str]:
    """Word or character n-grams of `normalise(text)`; a short non-empty text gives itself, "" gives []."""
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    norm = normalise(text)
    if not norm:
        return []
    if shingle == "word":
        tokens = norm.split(" ")
        return [" ".join(tokens[i:i + ngram]) for i in range(max(len(tokens) - ngram + 1, 1))]
    if shingle == "char":
        return [norm[i:i + ngram] for i in range(max(len(norm) - ngram + 1, 1))]
    raise ValueError(f"shingle must be 'word' or 'char', got {shingle!r}")


def _chunks(texts: Sequence[str]) -> list[tuple[int, int]]:
    lengths = np.fromiter((len(t) if isinstance(t, str) else 0 for t in texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(lengths)
    bounds, start = [], 0
    while start < len(texts):
        budget = (ends[start - 1] if start else 0) + CHUNK_CHARS
        stop = int(np.searchsorted(ends, budget, side="right"))
        stop = min(max(stop, start + 1), start + CHUNK_ROWS)
        bounds.append((start, stop))
        start = stop
    return bounds


def signatures(texts: Sequence[str], *, num_perm: int = 128, shingle: str = "word", ngram: int = 2,
               seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape (len(texts), num_perm), dtype uint32 (datasketch affine32)."""
    if shingle not in ("word", "char") or ngram < 1:
        raise ValueError(f"bad shingling: shingle={shingle!r}, ngram={ngram}")
    texts = list(texts)
    a, b = permutations(num_perm, seed)
    out = np.full((len(texts), num_perm), EMPTY, dtype=np.uint32)
    for start, stop in _chunks(texts):
        codes, offsets = normalised_codepoints(texts[start:stop])
        spans = word_spans(codes, offsets, ngram) if shingle == "word" else char_spans(offsets, ngram)
        hashes = fmix32(span_hashes(codes, spans[0], spans[1]))
        min_hash_rows(hashes, spans[2], out[start:stop], a, b)
    return out


def clusters(sigs: np.ndarray, params: LshParams, *, verify: bool = True) -> np.ndarray:
    """Cluster id per row (the index of the cluster's first row) from LSH band buckets.

    With `verify` (the default) a candidate pair joins two rows only when their
    estimated Jaccard similarity is >= params.threshold; clusters are the connected
    components (transitive closure) of the joined pairs.
    """
    pairs = lsh.candidate_pairs(sigs, params.bands, params.rows)
    if verify:
        pairs = lsh.verified(sigs, pairs, params.threshold)
    return lsh.components(len(sigs), pairs)


@dataclass
class DedupeResult:
    """Outcome of `dedupe`: cluster id per row, kept flags, and the kept row each dropped row duplicates."""

    cluster: np.ndarray
    keep: np.ndarray
    dup_of: list[int | None]


def _priority(texts: Sequence[str], settings: MinHashSettings, scores, lengths) -> np.ndarray:
    if settings.keep == "first":
        return np.zeros(len(texts))
    if settings.keep == "longest":
        sizes = lengths if lengths is not None else [len(t) for t in texts]
        return -np.asarray(sizes, dtype=np.float64)
    if scores is None:
        raise FactoryError(f"filter.minhash.keep = attribute needs the scores of "
                           f"filter.minhash.keep_attribute ({settings.keep_attribute!r}); none were given")
    values = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(values), np.inf, -values)


def keep_one_per_cluster(cluster: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, list[int | None]]:
    """Keep the lowest-priority row of each cluster (ties: input order); others point at it."""
    n = len(cluster)
    if len(priority) != n:
        raise FactoryError(f"keep policy: got {len(priority)} scores or lengths for {n} rows")
    order = np.lexsort((np.arange(n), priority, cluster))
    ordered = cluster[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    winner = np.empty(n, dtype=np.int64)
    winner[ordered[first]] = order[first]
    keep = np.zeros(n, dtype=bool)
    keep[order[first]] = True
    kept_row = winner[cluster]
    return keep, [None if k else int(w) for k, w in zip(keep.tolist(), kept_row.tolist())]


def dedupe(texts: Sequence[str], settings: MinHashSettings, scores: Sequence[float] | None = None,
           lengths: Sequence[int] | None = None) -> DedupeResult:
    """Near-duplicate clusters and one kept row per cluster by `settings.keep`.

    keep = first: the earliest row; longest: the largest `lengths` (default: characters of
    the text); attribute: the highest `scores` (NaN counts as lowest). Ties go to input
    order. `settings.enabled` is not consulted: the caller decides whether to run this.
    """
    texts = list(texts)
    sigs = signatures(texts, num_perm=settings.num_perm, shingle=settings.shingle, ngram=settings.ngram)
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    cluster = clusters(sigs, params)
    keep, dup_of = keep_one_per_cluster(cluster, _priority(texts, settings, scores, lengths))
    return DedupeResult(cluster=cluster, keep=keep, dup_of=dup_of)


def exact_duplicates(texts: Sequence[str]) -> list[int | None]:
    """For each row, the index of the first earlier row with equal `normalise(text)`, else None."""
    first: dict[str, int] = {}
    out: list[int | None] = []
    for index, norm in enumerate(normalise_many(list(texts))):
        seen = first.setdefault(norm, index)
        out.append(None if seen == index else seen)
    return out


def contamination(texts: Sequence[str], reference: Sequence[str], settings: MinHashSettings) -> list[int | None]:
    """For each row, a reference row it duplicates, else None.

    An exact match after `normalise` wins (the first such reference row); otherwise the
    smallest-index reference row sharing an LSH bucket with an estimated Jaccard
    similarity >= settings.threshold.
    """
    texts, reference = list(texts), list(reference)
    if not texts or not reference:
        return [None] * len(texts)
    exact: dict[str, int] = {}
    for index, norm in enumerate(normalise_many(reference)):
        exact.setdefault(norm, index)
    sigs = signatures(reference + texts, num_perm=settings.num_perm, shingle=settings.shingle, ngram=settings.ngram)
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    pairs = lsh.candidate_pairs(sigs, params.bands, params.rows)
    n_ref = len(reference)
    pairs = lsh.verified(sigs, pairs[(pairs[:, 0] < n_ref) & (pairs[:, 1] >= n_ref)], params.threshold)
    best = np.full(len(texts), n_ref, dtype=np.int64)
    np.minimum.at(best, pairs[:, 1] - n_ref, pairs[:, 0])
    out: list[int | None] = []
    for norm, near in zip(normalise_many(texts), best.tolist()):
        out.append(exact.get(norm, near if near < n_ref else None))
    return out


def to_datasketch(sig_row: np.ndarray, seed: int = 1) -> "datasketch.LeanMinHash":
    """A datasketch `LeanMinHash` with these hash values (scheme affine32 for uint32 rows)."""
    from datasketch import LeanMinHash

    row = np.asarray(sig_row)
    scheme = "affine32" if row.dtype == np.uint32 else "affine64"
    return LeanMinHash(seed=seed, hashvalues=row, scheme=scheme)
