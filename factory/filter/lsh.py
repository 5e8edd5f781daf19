"""LSH banding over MinHash signatures, candidate pairs, verification and clusters, in numpy.

Each band of `rows` signature columns is hashed to one 64-bit key per row; rows with
equal keys in any band are candidates. Within one band's bucket of g rows, every pair
is a candidate when g <= GROUP_CAP; a larger bucket (typically many copies of one text)
contributes the star pairs (its first row, each other row) only, which keeps the pair
count linear and still connects the bucket when its rows are alike. Candidates are
optionally verified: kept only when the estimated Jaccard similarity (share of equal
signature slots over all num_perm slots, as datasketch's `MinHash.jaccard`) reaches the
threshold. Clusters are the connected components of the kept pairs.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

GROUP_CAP = 16
_MIX = np.uint64(0x9E3779B97F4A7C15)
_FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def band_keys(sigs: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One uint64 key per signature row for band `band` (columns band*rows ... +rows)."""
    key = np.full(len(sigs), ((band + 1) * int(_MIX)) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    for column in range(band * rows, (band + 1) * rows):
        key ^= sigs[:, column].astype(np.uint64)
        key *= _MIX
    shift, m1, m2 = _FMIX64
    key ^= key >> shift
    key *= m1
    key ^= key >> shift
    key *= m2
    return key ^ (key >> shift)


def _bucket_pairs(keys: np.ndarray) -> np.ndarray:
    """Candidate pairs (i < j) of rows sharing a key: all pairs of small buckets, stars of big ones."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.concatenate([[0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1])
    sizes = np.diff(np.concatenate([starts, [len(keys)]]))
    pairs = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= GROUP_CAP)]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        left, right = np.triu_indices(size, 1)
        pairs.append(np.stack([members[:, left].ravel(), members[:, right].ravel()], axis=1))
    big = sizes > GROUP_CAP
    if big.any():
        group = np.repeat(np.arange(len(starts)), sizes)
        position = np.flatnonzero(big[group] & (np.arange(len(keys)) != starts[group]))
        pairs.append(np.stack([order[starts[group[position]]], order[position]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(pairs).astype(np.int64)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    codes = np.sort(pairs[:, 0] * n + pairs[:, 1])
    if len(codes):
        codes = codes[np.concatenate([[True], codes[1:] != codes[:-1]])]
    return np.stack([codes // n, codes % n], axis=1)


def candidate_pairs(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Unique (i, j), i < j, pairs of rows that share a bucket in at least one band."""
    n = len(sigs)
    found = np.zeros((0, 2), dtype=np.int64)
    for band in range(bands):
        new = _bucket_pairs(band_keys(sigs, band, rows))
        if len(new):
            found = _unique_pairs(np.concatenate([found, new]), n)
    return found


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """Estimated Jaccard similarity of each pair: share of equal signature slots."""
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), block):
        chunk = pairs[start:start + block]
        equal = sigs[chunk[:, 0]] == sigs[chunk[:, 1]]
        out[start:start + block] = np.count_nonzero(equal, axis=1) / sigs.shape[1]
    return out


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
