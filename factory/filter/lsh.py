"""LSH banding over MinHash signatures, candidate pairs, verification and clusters, in numpy.

Each band of `rows` signature columns is hashed to one 32-bit key per row; rows with
equal keys in any band are candidates. Within one band's bucket of g rows, every pair
is a candidate when g <= GROUP_CAP; a larger bucket (typically many copies of one text)
contributes the star pairs (its first row, each other row) only, which keeps the pair
count linear and still connects the bucket when its rows are alike. Candidates are
optionally verified: kept only when the estimated Jaccard similarity (share of equal
signature slots over all num_perm slots, as datasketch's `MinHash.jaccard`) reaches the
threshold. Clusters are the connected components of the kept pairs.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

GROUP_CAP = 16
"""Buckets up to this size give all their pairs, larger ones a star (also the Ray engine's rule)."""
BAND_SEED = 0x5EED
"""Seed of the band-hash multipliers (`band_multipliers`; the Ray engine hashes bands with the same)."""


def band_multipliers(used: int) -> np.ndarray:
    """The fixed random odd 32-bit multipliers M_j of the first `used` signature columns."""
    return np.random.default_rng(BAND_SEED).integers(0, 1 << 31, size=used, dtype=np.uint32) * 2 + 1


def band_keys(sigs: np.ndarray, bands: int, rows: int, block: int = 8192) -> np.ndarray:
    """(bands, n) uint32 bucket keys: sum_j sig[:, j] * M_j mod 2^32 over each band's columns.

    The M_j are fixed random odd 32-bit multipliers, one per signature column: equal bands
    give equal keys, and different bands collide with probability about 2^-32, which only
    adds a candidate pair that verification then rejects.
    """
    used = bands * rows
    multipliers = band_multipliers(used)
    keys = np.empty((bands, len(sigs)), dtype=np.uint32)
    for start in range(0, len(sigs), block):
        part = sigs[start:start + block, :used] * multipliers
        keys[:, start:start + block] = np.add.reduce(part.reshape(-1, bands, rows), axis=2, dtype=np.uint32).T
    return keys


def _bucket_pairs(keys: np.ndarray) -> np.ndarray:
    """Codes i * n + j (i < j) of rows sharing a key: all pairs of small buckets, stars of big ones.

    Each 32-bit key is packed with its row index into one uint64 and the packed values are
    sorted (a plain sort is about twice as fast as an argsort); within a bucket the rows
    then come in increasing order.
    """
    n = len(keys)
    packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
    bucket = packed >> np.uint64(32)
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    sizes = np.diff(np.append(starts, n))
    shared = sizes >= 2
    starts, sizes = starts[shared], sizes[shared]
    codes = []
    for size in np.unique(sizes[sizes <= GROUP_CAP]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        left, right = np.triu_indices(size, 1)
        codes.append((members[:, left] * n + members[:, right]).ravel())
    big = sizes > GROUP_CAP
    if big.any():
        big_starts, big_sizes = starts[big], sizes[big] - 1
        centre = np.repeat(order[big_starts], big_sizes)
        offsets = np.arange(int(big_sizes.sum())) - np.repeat(np.cumsum(big_sizes) - big_sizes, big_sizes)
        codes.append(centre * n + order[np.repeat(big_starts + 1, big_sizes) + offsets])
    return np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)


def sorted_unique(codes: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted (sort-based; faster than np.unique here)."""
    codes = np.sort(codes)
    return codes[np.concatenate([[True], codes[1:] != codes[:-1]])] if len(codes) else codes


def candidate_pairs(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Unique (i, j), i < j, pairs of rows that share a bucket in at least one band."""
    n = len(sigs)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    codes = sorted_unique(np.concatenate([_bucket_pairs(keys) for keys in band_keys(sigs, bands, rows)]))
    return np.stack([codes // n, codes % n], axis=1)


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """Estimated Jaccard similarity of each pair: share of equal signature slots."""
    out = np.empty(len(pairs), dtype=np.float64)
    width = sigs.shape[1]
    for start in range(0, len(pairs), block):
        chunk = pairs[start:start + block]
        equal = sigs[chunk[:, 0]] == sigs[chunk[:, 1]]
        if width % 8 == 0:  # sum 8 one-byte booleans at a time with one multiply
            words = equal.view(np.uint64) * np.uint64(0x0101010101010101) >> np.uint64(56)
            out[start:start + block] = words.sum(axis=1) / width
        else:
            out[start:start + block] = np.count_nonzero(equal, axis=1) / width
    return out


def border_margin(threshold: float, num_perm: int) -> float:
    """Half-width of the band around the threshold where an estimate is not trusted: 4 standard deviations."""
    return max(4 * math.sqrt(threshold * (1 - threshold) / num_perm), 1 / num_perm)


def set_jaccard(indptr: np.ndarray, values: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of the sorted distinct value sets (CSR rows) of each pair; two empty sets give 1."""
    sizes = np.diff(indptr)
    left, right = pairs[:, 0], pairs[:, 1]
    swap = sizes[left] > sizes[right]
    small, large = np.where(swap, right, left), np.where(swap, left, right)
    by_large = np.argsort(large, kind="stable")  # queries in table order: cache-friendly searches
    small, large = small[by_large], large[by_large]
    counts = sizes[small]
    owner = np.repeat(np.arange(len(pairs)), counts)
    element = np.repeat(indptr[small] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    table = (np.repeat(np.arange(len(sizes), dtype=np.uint64), sizes) << np.uint64(32)) | values
    query = (large[owner].astype(np.uint64) << np.uint64(32)) | values[element]
    position = np.minimum(np.searchsorted(table, query), max(len(table) - 1, 0))
    found = table[position] == query if len(table) else np.zeros(0, dtype=bool)
    shared = np.empty(len(pairs))
    shared[by_large] = np.bincount(owner, weights=found, minlength=len(pairs))
    union = sizes[left] + sizes[right] - shared
    return np.where(union > 0, shared / np.maximum(union, 1), 1.0)


def verified(sigs: np.ndarray, pairs: np.ndarray, threshold: float) -> np.ndarray:
    """The pairs whose estimated Jaccard similarity is at least `threshold`."""
    return pairs[estimated_jaccard(sigs, pairs) >= threshold - 1e-12]


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph; each row's id is the smallest row index of its component."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    return first[labels].astype(np.int64)
