"""Benchmark MinHash near-duplicate detection: ours vs a datasketch pipeline vs rensa.

    .venv/bin/python bench/dedup.py [--rows 100000] [--input FILE] [--one-million 1000000]

Data: bench/dedup_data.py (ParaDetox-length sentences plus synthetic near-duplicates with
known edits; `--input FILE` takes the base sentences from a text file instead). All three
systems use the same shingles (word bigrams of `factory.core.text.normalise`), threshold and
num_perm, and are timed end to end (wall clock) from the list of texts to near-duplicate
decisions, in this run:

- ours: `signatures` -> LSH candidate pairs -> verification (estimated Jaccard >=
  threshold, exact Jaccard for estimates within 4 standard deviations of it) ->
  connected components (`factory.filter.minhash.clusters` as `dedupe` calls it);
- datasketch: shingle lists (our normaliser, Python joins) -> `MinHash.bulk` (SHA-1 per
  shingle) -> `MinHashLSH(params=<our bands, rows>)` insert and query of every row ->
  verification by `jaccard` -> components. It is far too slow for all rows, so it runs on
  the first `--subset` rows and is compared by throughput (rows/s) with ours on the SAME
  rows (`vs_datasketch`); ours on all rows is printed beside it;
- rensa: the same shingle lists -> `RMinHashDeduplicator(use_lsh=True)` `add_pairs`
  (its documented batch dedupe; candidates verified by sketch similarity), on all rows.
  rensa needs num_bands to divide num_perm: the best such banding by the same error
  criterion is used. `vs_rensa` is the ratio of end-to-end times; the time rensa's
  pipeline spends making Python shingle lists is printed too.

Quality: on the first `--subset` rows, exact Jaccard of the shingle sets of every pair in
a sample of whole families (about `--sample` rows) is the ground truth; a system's
predicted duplicate pairs are its verified LSH candidate pairs inside the sample
(rensa: `RMinHashLSH` queries verified by its `jaccard`). Precision, recall, F1 per system.

`seconds_1m` and `peak_mb` come from a fresh process that builds a 1M-row corpus and runs
ours on it (wall and CPU seconds: the machine may be shared, see `load_average`;
peak_mb: the peak resident memory of that process, which includes the 1M input
strings; `input_mb` is its resident memory just before dedupe). Bad input (empty,
NUL-only, 1 MB and non-UTF-8-surrogate rows) is run through ours first. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_data import file_sentences, make_corpus, shared_sentences  # noqa: E402

from factory.filter import lsh  # noqa: E402
from factory.filter.minhash import LshParams, lsh_error, optimal_params, sketch, verify_pairs  # noqa: E402
from factory.recipe.filter import MinHashSettings  # noqa: E402
from factory.core.text import normalise_many  # noqa: E402


def shingle_lists(texts: list[str], ngram: int = 2) -> list[list[str]]:
    """Word n-gram shingles per row, equal to `factory.filter.minhash.shingles` (fast Python path)."""
    out = []
    for norm in normalise_many(texts):
        words = norm.split(" ") if norm else []
        out.append([" ".join(words[i:i + ngram]) for i in range(max(len(words) - ngram + 1, 1))] if words else [])
    return out


def run_ours(texts: list[str], params: LshParams) -> tuple[float, np.ndarray, np.ndarray]:
    """(seconds, cluster ids, verified pairs) of our pipeline."""
    start = time.perf_counter()
    sigs, hashes = sketch(texts, num_perm=params.num_perm)
    pairs = verify_pairs(sigs, lsh.candidate_pairs(sigs, params.bands, params.rows), params.threshold, hashes)
    cluster = lsh.components(len(texts), pairs)
    return time.perf_counter() - start, cluster, pairs


def run_datasketch(texts: list[str], params: LshParams) -> tuple[float, np.ndarray]:
    """(seconds, verified pairs) of the datasketch pipeline."""
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    sketches = MinHash.bulk([[s.encode("utf-8") for s in row] for row in shingle_lists(texts)],
                            num_perm=params.num_perm, seed=1)
    index = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
    for key, minhash in enumerate(sketches):
        index.insert(key, minhash)
    pairs = [(i, j) for i, minhash in enumerate(sketches) for j in index.query(minhash)
             if i < j and minhash.jaccard(sketches[j]) >= params.threshold]
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    lsh.components(len(texts), pairs)
    return time.perf_counter() - start, pairs


def rensa_bands(threshold: float, num_perm: int, false_positive_weight: float) -> int:
    """Best number of bands among the divisors of num_perm (rensa needs equal bands covering all slots)."""
    divisors = np.array([b for b in range(1, num_perm + 1) if num_perm % b == 0])
    return int(divisors[np.argmin(lsh_error(threshold, divisors, num_perm // divisors, false_positive_weight,
                                            num_perm))])


def run_rensa(texts: list[str], threshold: float, num_perm: int, bands: int) -> tuple[float, float, int]:
    """(seconds end to end, seconds spent making shingle lists, rows kept) of rensa's dedupe."""
    from rensa import RMinHashDeduplicator

    start = time.perf_counter()
    tokens = shingle_lists(texts)
    tokenised = time.perf_counter()
    dedup = RMinHashDeduplicator(threshold=threshold, num_perm=num_perm, use_lsh=True, num_bands=bands)
    keep = dedup.add_pairs((str(i), row) for i, row in enumerate(tokens))
    end = time.perf_counter()
    return end - start, tokenised - start, int(sum(keep))


def rensa_pairs(texts: list[str], sample: np.ndarray, threshold: float, num_perm: int, bands: int) -> np.ndarray:
    """rensa's verified LSH candidate pairs among the sample rows."""
    from rensa import RMinHash, RMinHashLSH

    sketches = RMinHash.from_token_sets(shingle_lists(texts), num_perm=num_perm, seed=42)
    index = RMinHashLSH(threshold, num_perm, bands)
    index.insert_many(sketches)
    members = set(sample.tolist())
    found = [(i, j) for i in sample.tolist() for j in index.query(sketches[i])
             if i < j and j in members and sketches[i].jaccard(sketches[j]) >= threshold]
    return np.array(found, dtype=np.int64).reshape(-1, 2)


def family_sample(family: list[int], size: int, seed: int) -> np.ndarray:
    """Row indices of randomly chosen whole families, about `size` rows."""
    family = np.asarray(family)
    ids = np.random.default_rng(seed).permutation(np.unique(family))
    sizes = np.bincount(family)[ids]
    chosen = ids[: int(np.searchsorted(np.cumsum(sizes), size)) + 1]
    return np.flatnonzero(np.isin(family, chosen))


def true_pairs(texts: list[str], sample: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Pairs of sample rows whose shingle sets have exact Jaccard >= threshold."""
    vocab: dict[str, int] = {}
    rows = [sorted({vocab.setdefault(s, len(vocab)) for s in row}) for row in shingle_lists([texts[i] for i in sample])]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    matrix = csr_matrix((np.ones(indptr[-1], dtype=np.int32), np.concatenate(rows), indptr),
                        shape=(len(rows), len(vocab)))
    inter = (matrix @ matrix.T).tocoo()
    sizes = np.diff(indptr)
    upper = inter.row < inter.col
    i, j, shared = inter.row[upper], inter.col[upper], inter.data[upper]
    hit = shared / (sizes[i] + sizes[j] - shared) >= threshold
    return {(int(sample[a]), int(sample[b])) for a, b in zip(i[hit], j[hit])}


def scores(predicted: np.ndarray, truth: set[tuple[int, int]], sample: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of predicted pairs restricted to the sample."""
    members = set(sample.tolist())
    found = {(int(i), int(j)) for i, j in predicted if i in members and j in members}
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def bad_input_ok(params: LshParams) -> bool:
    """Ours on empty, NUL-only, 1 MB and lone-surrogate rows: completes, empty rows cluster together."""
    texts = ["", "\x00\x00", "word " * 200_000, "a\x00b c d", "\udcff bad bytes", "", "x" * 1_000_000]
    _, cluster, _ = run_ours(texts, params)
    return bool(cluster[0] == cluster[1] == cluster[5] == 0 and len(cluster) == len(texts))


def one_million(pool: list[str], rows: int, params: LshParams, seed: int) -> dict:
    """In a fresh process: time ours on a `rows`-row corpus; report peak resident memory."""
    texts, _ = make_corpus(pool, rows, seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time()
    seconds, cluster, _ = run_ours(texts, params)
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak, "input_mb": before,
            "clusters": int(len(np.unique(cluster)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for ours vs rensa")
    parser.add_argument("--input", type=Path, help="text file of base sentences, one per line")
    parser.add_argument("--subset", type=int, default=20_000, help="rows for datasketch and for quality")
    parser.add_argument("--sample", type=int, default=3000, help="rows of the exact-Jaccard ground truth sample")
    parser.add_argument("--one-million", type=int, default=1_000_000, help="rows of the timing run (0: skip)")
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--false-positive-weight", type=float, default=0.1,
                        help="weight of false positives when choosing bands x rows, for all three systems (0.1: "
                             "recall first, as verification removes false positives; recipe default: "
                             f"{MinHashSettings().false_positive_weight})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pool, dropped = file_sentences(args.input) if args.input else (shared_sentences(), {})
    params = optimal_params(args.threshold, args.num_perm, args.false_positive_weight)
    bands_r = rensa_bands(args.threshold, args.num_perm, args.false_positive_weight)
    texts, family = make_corpus(pool, args.rows, args.seed)
    subset = texts[: min(args.subset, len(texts))]
    print(f"base sentences {len(pool)}, rows {len(texts)}, subset {len(subset)}, "
          f"bands x rows {params.bands}x{params.rows}"
          f" (rensa {bands_r}x{args.num_perm // bands_r})", file=sys.stderr)
    robust = bad_input_ok(params)

    ours_n, _, _ = run_ours(texts, params)
    rensa_n, rensa_tok, rensa_kept = run_rensa(texts, args.threshold, args.num_perm, bands_r)
    ours_s, _, ours_pairs = run_ours(subset, params)
    ds_s, ds_pairs = run_datasketch(subset, params)

    sample = family_sample(family[: len(subset)], args.sample, args.seed)
    truth = true_pairs(subset, sample, args.threshold)
    quality = {"ours": scores(ours_pairs, truth, sample), "datasketch": scores(ds_pairs, truth, sample),
               "rensa": scores(rensa_pairs(subset, sample, args.threshold, args.num_perm, bands_r), truth, sample)}

    million = {}
    if args.one_million:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool_exec:
            million = pool_exec.submit(one_million, pool, args.one_million, params, args.seed).result()

    rate = {"ours": len(texts) / ours_n, "ours_subset": len(subset) / ours_s, "datasketch_subset": len(subset) / ds_s,
            "rensa": len(texts) / rensa_n}
    print(f"rows/s: ours {rate['ours']:,.0f} on {len(texts)} rows, {rate['ours_subset']:,.0f} on {len(subset)};"
          f" datasketch {rate['datasketch_subset']:,.0f} on {len(subset)} (subset: too slow for all rows);"
          f" rensa {rate['rensa']:,.0f} on {len(texts)} (of its {rensa_n:.2f} s, {rensa_tok:.2f} s make shingle lists;"
          f" kept {rensa_kept})", file=sys.stderr)
    print(f"ground truth: {len(truth)} duplicate pairs among {len(sample)} sampled rows; quality {quality}",
          file=sys.stderr)
    if million:
        print(f"{args.one_million} rows: {million['seconds']:.1f} s wall, {million['cpu_seconds']:.1f} s CPU,"
              f" peak {million['peak_mb']:.0f} MB"
              f" (input alone {million['input_mb']:.0f} MB)", file=sys.stderr)
    print(json.dumps({
        "vs_datasketch": round(rate["ours_subset"] / rate["datasketch_subset"], 2),
        "vs_datasketch_all_rows": round(rate["ours"] / rate["datasketch_subset"], 2),
        "vs_rensa": round(rensa_n / ours_n, 2),
        "vs_rensa_minhash_only": round((rensa_n - rensa_tok) / ours_n, 2),
        "f1": quality["ours"]["f1"], "f1_datasketch": quality["datasketch"]["f1"], "f1_rensa": quality["rensa"]["f1"],
        "quality": quality, "truth_pairs": len(truth),
        "seconds_1m": round(million["seconds"], 2) if million else None,
        "cpu_seconds_1m": round(million["cpu_seconds"], 2) if million else None,
        "peak_mb": round(million["peak_mb"]) if million else None,
        "input_mb_1m": round(million["input_mb"]) if million else None,
        "rows": len(texts), "subset_rows": len(subset), "rows_per_s": {k: round(v) for k, v in rate.items()},
        "bands": params.bands, "rows_per_band": params.rows, "rensa_bands": bands_r,
        "bad_input_ok": robust, "input_dropped": {k: len(v) for k, v in dropped.items()},
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
