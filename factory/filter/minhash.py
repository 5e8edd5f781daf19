"""Exact and MinHash near-duplicate detection, and decontamination against reference rows.

Pipeline (datatrove's four steps, vectorised with numpy): normalise every text
(`factory.core.text.normalise`), cut it into shingles (word or character n-grams), hash each
shingle once, apply `num_perm` affine permutations to whole blocks of shingle hashes and
min-reduce them per row (`signatures`); hash every band of `rows` signature values to a
bucket key, take rows sharing a bucket as candidates, verify each candidate pair, and
join verified pairs into clusters (`clusters`); keep one row per cluster (`dedupe`).
Verification (`verify_pairs`): a pair is a duplicate when its Jaccard similarity is >=
threshold, judged by the MinHash estimate, except that `dedupe` and `contamination`
decide pairs whose estimate lies within four standard deviations of the threshold by
the exact Jaccard of the two rows' shingle-hash sets (so borderline pairs are neither
dropped nor kept by estimator noise). Kernels and formulas are in
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

from factory.core.errors import FactoryError
from factory.filter import lsh
from factory.filter.sketch import ShingleHashes, shingle_hash, sketch
from factory.recipe.filter import MinHashSettings
from factory.core.text import normalise, normalise_many

if TYPE_CHECKING:
    import datasketch

__all__ = ["LshParams", "DedupeResult", "optimal_params", "lsh_error", "shingles", "signatures", "sketch",
           "ShingleHashes", "verify_pairs", "clusters", "dedupe",
           "exact_duplicates", "contamination", "to_datasketch", "shingle_hash"]


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


def lsh_error(threshold: float, bands, rows, false_positive_weight: float = 0.5, num_perm: int | None = None):
    """Weighted FP + FN probability integrals of banding (bands, rows); arrays give arrays.

    FP = integral over s in [0, threshold] of P(candidate | Jaccard s) = 1 - (1 - s^r)^b,
    FN = integral over s in [threshold, 1] of 1 - P(candidate | s). The integrands are
    polynomials of degree b * r, so Gauss-Legendre quadrature with (b * r) // 2 + 1
    nodes (at most num_perm // 2 + 1) computes them exactly.
    """
    bands = np.atleast_1d(np.asarray(bands))[:, None]
    rows = np.atleast_1d(np.asarray(rows))[:, None]
    nodes = (num_perm or int((bands * rows).max())) // 2 + 1
    fp = _integral(lambda s: 1 - (1 - s ** rows) ** bands, 0.0, threshold, nodes)
    fn = _integral(lambda s: (1 - s ** rows) ** bands, threshold, 1.0, nodes)
    return false_positive_weight * fp + (1 - false_positive_weight) * fn


def optimal_params(threshold: float, num_perm: int, false_positive_weight: float = 0.5) -> LshParams:
    """Bands x rows (bands * rows <= num_perm) minimising `lsh_error`, first minimum in (b, r) order.

    The same search as datasketch's `_optimal_param` (which integrates numerically); the
    quadrature here is exact, and the choices agree.
    """
    if not 0.0 <= threshold <= 1.0 or not 0.0 <= false_positive_weight <= 1.0 or num_perm < 1:
        raise ValueError(f"bad LSH settings: threshold={threshold}, num_perm={num_perm}, "
                         f"false_positive_weight={false_positive_weight}")
    bands = np.concatenate([np.full(num_perm // b, b) for b in range(1, num_perm + 1)])
    rows = np.concatenate([np.arange(1, num_perm // b + 1) for b in range(1, num_perm + 1)])
    best = int(np.argmin(lsh_error(threshold, bands, rows, false_positive_weight, num_perm)))
    return LshParams(float(threshold), num_perm, int(bands[best]), int(rows[best]))


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


def signatures(texts: Sequence[str], *, num_perm: int = 128, shingle: str = "word", ngram: int = 2,
               seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape (len(texts), num_perm), dtype uint32 (datasketch affine32)."""
    return sketch(texts, num_perm=num_perm, shingle=shingle, ngram=ngram, seed=seed)[0]


def verify_pairs(sigs: np.ndarray, pairs: np.ndarray, threshold: float,
                 hashes: ShingleHashes | None = None) -> np.ndarray:
    """The candidate pairs that are duplicates at `threshold`.

    Without `hashes`: estimated Jaccard (share of equal signature slots) >= threshold.
    With the rows' shingle hashes (`sketch`): pairs whose estimate is within
    `lsh.border_margin` of the threshold (four standard deviations of the estimator) are
    decided by the exact Jaccard of their shingle-hash sets instead; pairs outside that
    band keep the estimate's decision (wrong with probability below 1e-4).
    """
    estimate = lsh.estimated_jaccard(sigs, pairs)
    if hashes is None:
        return pairs[estimate >= threshold - 1e-12]
    margin = lsh.border_margin(threshold, sigs.shape[1])
    accept = estimate >= threshold + margin
    border = np.flatnonzero(np.abs(estimate - threshold) < margin)
    if len(border):
        rows = lsh.sorted_unique(pairs[border].ravel())
        indptr, values = hashes.sets(rows)
        exact = lsh.set_jaccard(indptr, values, np.searchsorted(rows, pairs[border]))
        accept[border] = exact >= threshold - 1e-12
    return pairs[accept]


def clusters(sigs: np.ndarray, params: LshParams, *, verify: bool = True,
             hashes: ShingleHashes | None = None) -> np.ndarray:
    """Cluster id per row (the index of the cluster's first row) from LSH band buckets.

    With `verify` (the default) a candidate pair joins two rows only when `verify_pairs`
    accepts it: estimated Jaccard >= params.threshold, or, when the rows' shingle
    `hashes` are given, the exact Jaccard for pairs whose estimate is near the threshold.
    Clusters are the connected components (transitive closure) of the joined pairs.
    """
    pairs = lsh.candidate_pairs(sigs, params.bands, params.rows)
    if verify:
        pairs = verify_pairs(sigs, pairs, params.threshold, hashes)
    return lsh.components(len(sigs), pairs)


@dataclass
class DedupeResult:
    """Outcome of `dedupe`: cluster id per row, kept flags, and the kept row each dropped row duplicates."""

    cluster: np.ndarray
    keep: np.ndarray
    dup_of: list[int | None]


def keep_priority(texts: Sequence[str], settings: MinHashSettings, scores: Sequence[float] | None = None,
                  lengths: Sequence[int] | None = None) -> np.ndarray:
    """Per row, the value the keep policy minimises (ties go to the smaller row index); the Ray engine uses it too.

    first: 0; longest: minus the length (`lengths`, default characters); attribute: minus the
    score, NaN lowest.
    """
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
    sigs, hashes = sketch(texts, num_perm=settings.num_perm, shingle=settings.shingle, ngram=settings.ngram)
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    cluster = clusters(sigs, params, hashes=hashes)
    keep, dup_of = keep_one_per_cluster(cluster, keep_priority(texts, settings, scores, lengths))
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
    smallest-index reference row sharing an LSH bucket whose Jaccard similarity is >=
    settings.threshold (`verify_pairs`: the estimate, or the exact Jaccard near the
    threshold). Recall is bounded by the LSH banding: a low `false_positive_weight`
    (more, shorter bands) misses fewer contaminated rows at little cost.
    """
    texts, reference = list(texts), list(reference)
    if not texts or not reference:
        return [None] * len(texts)
    exact: dict[str, int] = {}
    for index, norm in enumerate(normalise_many(reference)):
        exact.setdefault(norm, index)
    sigs, hashes = sketch(reference + texts, num_perm=settings.num_perm, shingle=settings.shingle,
                          ngram=settings.ngram)
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    pairs = lsh.candidate_pairs(sigs, params.bands, params.rows)
    n_ref = len(reference)
    pairs = verify_pairs(sigs, pairs[(pairs[:, 0] < n_ref) & (pairs[:, 1] >= n_ref)], params.threshold, hashes)
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
