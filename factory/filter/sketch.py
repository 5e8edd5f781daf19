"""Vectorised MinHash kernels: shingle spans, shingle hashes and affine permutations.

Shingles are substrings of a normalised row (see `factory.core.text`): a word n-gram is the
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

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from factory.progress import progress
from factory.core.text import normalised_codepoints

MASK64 = (1 << 64) - 1
P = 0x9E3779B97F4A7C15
Q = pow(P, -1, 1 << 64)
LEN_MIX = 0xC2B2AE3D27D4EB4F
EMPTY = np.uint32(0xFFFFFFFF)
_FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
CHUNK_CHARS = 1_000_000
CHUNK_ROWS = 65_536
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
    """(starts, ends, rows) of the word n-gram shingles of normalised rows, in row order."""
    lengths = np.diff(offsets)
    space = codes == 32
    row_start = np.zeros(len(codes) + 1, dtype=bool)
    row_start[offsets[:-1]] = True
    begins = ~space
    begins[1:] &= space[:-1] | row_start[1:-1]
    finishes = ~space
    finishes[:-1] &= space[1:] | row_start[1:-1]
    word_starts, word_ends = np.flatnonzero(begins), np.flatnonzero(finishes) + 1
    word_rows = np.searchsorted(offsets, word_starts, side="right") - 1
    first_word = np.searchsorted(word_rows, np.arange(len(lengths)))
    last_word = np.append(first_word[1:], len(word_rows)) - 1
    index = np.arange(len(word_starts))
    row_last = last_word[word_rows]
    emit = (index + ngram - 1 <= row_last) | ((index == first_word[word_rows]) & (index + ngram - 1 > row_last))
    index = index[emit]
    return word_starts[index], word_ends[np.minimum(index + ngram - 1, row_last[index])], word_rows[index]


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


def _fold_dense(table: np.ndarray, out: np.ndarray, a: np.ndarray, b: np.ndarray, block: int) -> None:
    """out[i] = min over j of a * table[i, j] + b, for a dense (rows, width) table of hashes."""
    scratch = np.empty((block, len(a)), dtype=np.uint32)
    columns = np.ascontiguousarray(table.T)
    for start in range(0, len(table), block):
        stop = min(start + block, len(table))
        acc, tmp = np.empty((stop - start, len(a)), dtype=np.uint32), scratch[:stop - start]
        np.multiply(columns[0, start:stop, None], a, out=acc)
        np.add(acc, b, out=acc)
        for column in columns[1:]:
            np.multiply(column[start:stop, None], a, out=tmp)
            np.add(tmp, b, out=tmp)
            np.minimum(acc, tmp, out=acc)
        out[start:stop] = acc


def _fold_ragged(hashes: np.ndarray, rows: np.ndarray, out: np.ndarray, a: np.ndarray, b: np.ndarray,
                 block: int = 8192) -> None:
    """Like `_fold_dense` for long rows: blocks of shingles min-reduced per row segment."""
    scratch = np.empty((block, len(a)), dtype=np.uint32)
    for start in range(0, len(hashes), block):
        r = rows[start:start + block]
        view = scratch[:len(r)]
        np.multiply(hashes[start:start + block, None], a, out=view)
        np.add(view, b, out=view)
        segments = np.concatenate([[0], np.flatnonzero(r[1:] != r[:-1]) + 1])
        targets = r[segments]
        out[targets] = np.minimum(out[targets], np.minimum.reduceat(view, segments, axis=0))


def min_hash_rows(hashes: np.ndarray, rows: np.ndarray, out: np.ndarray, a: np.ndarray, b: np.ndarray,
                  dense_width: int = 64, block: int = 2048) -> None:
    """Fold pre-mixed shingle hashes (grouped by row) into signatures: out[r] = min(out[r], a*h + b).

    Rows with c <= dense_width shingles are processed together per c as a dense (rows, c)
    table, one numpy pass per shingle position; longer rows go through `_fold_ragged`.
    """
    counts = np.bincount(rows, minlength=len(out))
    first = np.cumsum(counts) - counts
    for width in np.unique(counts[(counts > 0) & (counts <= dense_width)]):
        members = np.flatnonzero(counts == width)
        table = hashes[first[members, None] + np.arange(width)]
        result = np.empty((len(members), len(a)), dtype=np.uint32)
        _fold_dense(table, result, a, b, block)
        out[members] = np.minimum(out[members], result)
    long_rows = counts > dense_width
    if long_rows.any():
        mask = long_rows[rows]
        _fold_ragged(hashes[mask], rows[mask], out, a, b)


@dataclass(frozen=True)
class ShingleHashes:
    """The pre-mixed 32-bit hashes of every shingle of every row (CSR: row i is values[indptr[i]:indptr[i+1]])."""

    indptr: np.ndarray
    values: np.ndarray

    def sets(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, values) of the distinct hashes of the given rows, each row sorted."""
        sizes = self.indptr[rows + 1] - self.indptr[rows]
        local = np.repeat(np.arange(len(rows), dtype=np.uint64), sizes)
        take = np.repeat(self.indptr[rows] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
        keys = np.sort((local << np.uint64(32)) | self.values[take])
        if len(keys):
            keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(rows)), out=indptr[1:])
        return indptr, (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _chunks(texts: Sequence[str]) -> list[tuple[int, int]]:
    """Row ranges of about CHUNK_CHARS characters (at most CHUNK_ROWS rows, at least one row)."""
    try:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    except TypeError:  # a non-string row: normalised_codepoints names it
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


def chunk_hashes(texts: list[str], shingle: str, ngram: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Yield (start, stop, hashes, rows) per chunk: pre-mixed shingle hashes, grouped by chunk-local row."""
    if shingle not in ("word", "char") or ngram < 1:
        raise ValueError(f"bad shingling: shingle={shingle!r}, ngram={ngram}")
    for start, stop in _chunks(texts):
        codes, offsets = normalised_codepoints(texts[start:stop])
        spans = word_spans(codes, offsets, ngram) if shingle == "word" else char_spans(offsets, ngram)
        yield start, stop, fmix32(span_hashes(codes, spans[0], spans[1])), spans[2]


def sketch(texts: Sequence[str], *, num_perm: int = 128, shingle: str = "word", ngram: int = 2,
           seed: int = 1) -> tuple[np.ndarray, ShingleHashes]:
    """MinHash signatures (len(texts), num_perm) uint32, and the shingle hashes they were made from."""
    texts = list(texts)
    a, b = permutations(num_perm, seed)
    out = np.full((len(texts), num_perm), EMPTY, dtype=np.uint32)
    values, counts = [], []
    bar = progress(total=len(texts), desc="minhash sketches", unit="text")
    for start, stop, hashes, rows in chunk_hashes(texts, shingle, ngram):
        min_hash_rows(hashes, rows, out[start:stop], a, b)
        bar.update(stop - start)
        values.append(hashes)
        counts.append(np.bincount(rows, minlength=stop - start))
    bar.close()
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
    return out, ShingleHashes(indptr, np.concatenate(values) if values else np.zeros(0, dtype=np.uint32))
