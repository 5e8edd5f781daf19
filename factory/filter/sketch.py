"""Vectorised MinHash kernels: shingle spans, shingle hashes and affine permutations.

Shingles are substrings of a normalised row (see `factory.text`): a word n-gram is the
span from the first character of word k to the last character of word k+n-1 (the words
joined by single spaces), a character n-gram is n consecutive characters (spaces
included). A row with fewer than n words (characters) but at least one yields a single
shingle, the whole row. An empty row yields no shingle.

Shingle hash (`shingle_hash`, 32 bits), defined on the Unicode code points c_0..c_{L-1}:
    H = sum_j (c_j + 1) * P^(L-1-j)  mod 2^64    (P = 0x9E3779B97F4A7C15, odd)
    shingle_hash = fmix64(H xor L * 0xC2B2AE3D27D4EB4F) >> 32
where fmix64 is the MurmurHash3 64-bit finaliser. Batches compute H for every span at
once from one prefix sum: with Q = P^-1 mod 2^64 and G[i] = sum_{j<i} (c_j + 1) Q^j,
H(s, e) = P^(e-1) * (G[e] - G[s]) mod 2^64, so hashing costs O(characters), whatever the
shingle lengths (a 1 MB line included), and Python never loops per token.

Permutations are datasketch's "affine32" scheme, bit for bit: the shingle hash is
pre-mixed with the 32-bit MurmurHash3 finaliser, then h -> a_k * h + b_k mod 2^32 with
(a_k odd, b_k) drawn by `numpy.random.RandomState(seed)` as datasketch draws them. So
`datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` fed our shingles holds the
same hash values as our signature row. An empty row keeps the initial value 2^32 - 1 in
every slot, exactly datasketch's empty MinHash.
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
P = 0x9E3779B97F4A7C15
Q = pow(P, -1, 1 << 64)
LEN_MIX = 0xC2B2AE3D27D4EB4F
EMPTY = np.uint32(0xFFFFFFFF)
_FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
_powers: dict[str, np.ndarray] = {}


def _fmix(values: np.ndarray, constants: tuple[int, ...]) -> np.ndarray:
    dtype = values.dtype.type
    s1, m1, s2, m2, s3 = (dtype(c) for c in constants)
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser on a uint32 array (datasketch's affine32 pre-mix)."""
    return _fmix(values.astype(np.uint32, copy=False), _FMIX32)


def _fmix64_int(value: int) -> int:
    s1, m1, s2, m2, s3 = _FMIX64
    value ^= value >> s1
    value = (value * m1) & MASK64
    value ^= value >> s2
    value = (value * m2) & MASK64
    return value ^ (value >> s3)


def shingle_hash(shingle: str | bytes) -> int:
    """32-bit hash of one shingle (module doc); usable as datasketch's `hashfunc`."""
    if isinstance(shingle, (bytes, bytearray, memoryview)):
        shingle = bytes(shingle).decode("utf-8", "surrogatepass")
    value = 0
    for char in shingle:
        value = (value * P + ord(char) + 1) & MASK64
    value ^= (len(shingle) * LEN_MIX) & MASK64
    return _fmix64_int(value) >> 32


def _power_table(base: int, length: int) -> np.ndarray:
    key = str(base)
    table = _powers.get(key)
    if table is None or len(table) < length:
        size = max(length, 2 * len(table) if table is not None else 1 << 16)
        steps = np.full(size, base, dtype=np.uint64)
        steps[0] = 1
        table = np.cumprod(steps, dtype=np.uint64)
        _powers[key] = table
    return table


def span_hashes(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`shingle_hash` of every span codes[starts[i]:ends[i]] (all spans non-empty), as uint32."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint32)
    n = len(codes)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum((codes.astype(np.uint64) + np.uint64(1)) * _power_table(Q, n)[:n], out=prefix[1:])
    value = _power_table(P, n)[ends - 1] * (prefix[ends] - prefix[starts])
    value ^= (ends - starts).astype(np.uint64) * np.uint64(LEN_MIX)
    return (_fmix(value, _FMIX64) >> np.uint64(32)).astype(np.uint32)


def word_spans(codes: np.ndarray, offsets: np.ndarray, ngram: int) -> tuple[np.ndarray, ...]:
    """(starts, ends, rows) of the word n-gram shingles of normalised rows, grouped by row."""
    lengths = np.diff(offsets)
    nonempty = lengths > 0
    spaces = np.flatnonzero(codes == 32)
    word_starts = np.sort(np.concatenate([offsets[:-1][nonempty], spaces + 1]))
    word_ends = np.sort(np.concatenate([offsets[1:][nonempty], spaces]))
    word_rows = np.searchsorted(offsets, word_starts, side="right") - 1
    last = np.arange(len(word_starts) - ngram + 1)
    full = last[word_rows[last] == word_rows[last + ngram - 1]] if len(last) else last
    counts = np.bincount(word_rows, minlength=len(lengths))
    short = np.flatnonzero((counts > 0) & (counts < ngram))
    starts = np.concatenate([word_starts[full], offsets[short]])
    ends = np.concatenate([word_ends[full + ngram - 1], offsets[short + 1]])
    rows = np.concatenate([word_rows[full], short])
    order = np.argsort(rows, kind="stable")
    return starts[order], ends[order], rows[order]


def char_spans(offsets: np.ndarray, ngram: int) -> tuple[np.ndarray, ...]:
    """(starts, ends, rows) of the character n-gram shingles of normalised rows."""
    lengths = np.diff(offsets)
    counts = np.where(lengths > 0, np.maximum(lengths - ngram + 1, 1), 0)
    rows = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts
    starts = offsets[rows] + (np.arange(len(rows)) - first[rows])
    ends = np.minimum(starts + ngram, offsets[rows + 1])
    return starts, ends, rows


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) uint32 parameters of datasketch's affine32 permutations for `seed`."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def min_hash_rows(hashes: np.ndarray, rows: np.ndarray, out: np.ndarray,
                  a: np.ndarray, b: np.ndarray, block: int = 8192) -> None:
    """Fold pre-mixed shingle hashes into `out` (rows sorted): out[r] = min(out[r], a*h + b)."""
    buffer = np.empty((block, len(a)), dtype=np.uint32)
    for start in range(0, len(hashes), block):
        h = hashes[start:start + block, None]
        r = rows[start:start + block]
        view = buffer[:len(r)]
        np.multiply(h, a, out=view)
        np.add(view, b, out=view)
        segments = np.concatenate([[0], np.flatnonzero(r[1:] != r[:-1]) + 1])
        mins = np.minimum.reduceat(view, segments, axis=0)
        targets = r[segments]
        out[targets] = np.minimum(out[targets], mins)
