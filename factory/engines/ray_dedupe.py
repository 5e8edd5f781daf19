"""MinHash near-duplicate removal on Ray Data: the local engine's parameters, clusters and kept rows.

The local engine (`factory.filter.minhash.dedupe`) as a dataflow of five steps:

1. signatures (`map_batches`): every row gets its MinHash signature and shingle hashes
   from the local kernel (`minhash.sketch`), and one bucket key per LSH band, hashed as
   the local engine hashes bands (`band_keys`, with `factory.filter.lsh.band_multipliers`); bands x
   rows come from `optimal_params`.
2. buckets (a hash shuffle on the bucket): every (band, key, row) triple gets a shuffle
   partition from its bucket (`engine.shuffle_partitions` of them), `groupby("part")`
   brings each partition's triples together and `map_groups` finds its buckets with one
   vectorised Arrow group-by (one Python call per partition, not per bucket); a bucket
   of g >= 2 rows yields candidate pairs by the local rule - every pair when
   g <= GROUP_CAP, else the star from its smallest row to each other row.
3. verification (two hash joins): each candidate pair is joined with the signature table
   on both of its rows and kept when `minhash.verify_pairs` accepts it (estimated Jaccard,
   or the exact Jaccard of the shingle sets near the threshold). A near-duplicate pair
   shares many bands (8 on average in the 20k-row benchmark), so the pairs are first made
   unique by a second small hash shuffle (`unique_pairs` per partition of (i, j)); the
   joins then carry each pair's signatures once.
4. clusters (driver): only the verified edges come to the driver. Their connected
   components (scipy's breadth-first labelling over the rows that have an edge, so memory
   grows with the edges, not the corpus) give each row the smallest row index of its
   component - the local cluster id. Rows without an edge are their own cluster.
5. keep and removal: in each cluster the row with the lowest (priority, row) survives
   (`factory.filter.minhash.keep_priority`: 0 for `first`, minus the length for `longest`,
   minus the score for `attribute`, NaN lowest - the local rule); the others form the dropped table
   (row, dup_of), and the kept rows are the input minus the dropped ones, by a left
   anti-join on `row`.

Ray retries the tasks and restarts the actors of a worker that dies, so a killed worker
costs time, not rows. `ray` is imported only when a function here runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factory.engines.ray_session import connect, task_kwargs
from factory.core.errors import FactoryError
from factory.filter.lsh import GROUP_CAP, band_multipliers
from factory.filter.minhash import (DedupeResult, LshParams, ShingleHashes, keep_priority, optimal_params, sketch,
                                   verify_pairs)
from factory.recipe.engine import Engine
from factory.recipe.filter import MinHashSettings

if TYPE_CHECKING:
    from ray.data import Dataset

def band_keys(sigs: np.ndarray, params: LshParams) -> np.ndarray:
    """(rows, bands) uint32 bucket keys: sum_j sig[:, j] * M_j mod 2^32 over each band's columns.

    The same odd multipliers M_j and sums as the local engine, so the buckets are the same.
    """
    used = params.bands * params.rows
    multipliers = band_multipliers(used)
    part = sigs[:, :used] * multipliers
    return np.add.reduce(part.reshape(len(sigs), params.bands, params.rows), axis=2, dtype=np.uint32)


def _fixed(column: pa.ChunkedArray | pa.Array, width: int, dtype: Any) -> np.ndarray:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(-1, width)


def sign_batch(batch: pa.Table, settings: MinHashSettings, params: LshParams) -> pa.Table:
    """Step 1 on one batch of (row, text, priority): add sig, shingles and band keys."""
    sigs, hashes = sketch(batch.column("text").to_pylist(), num_perm=settings.num_perm,
                          shingle=settings.shingle, ngram=settings.ngram)
    keys = band_keys(sigs, params)
    return pa.table({
        "row": batch.column("row"),
        "priority": batch.column("priority"),
        "sig": pa.FixedSizeListArray.from_arrays(pa.array(sigs.ravel()), settings.num_perm),
        "shingles": pa.ListArray.from_arrays(pa.array(hashes.indptr, pa.int64()).cast(pa.int32()),
                                             pa.array(hashes.values)),
        "keys": pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel()), params.bands),
    })


def band_rows(batch: pa.Table, bands: int, parts: int = 1) -> pa.Table:
    """Step 2a: one (part, band, key, row) row per row and band; `part` is the bucket's
    shuffle partition, a hash of (band, key) modulo `parts`."""
    keys = _fixed(batch.column("keys"), bands, np.uint32)
    rows = batch.column("row").to_numpy()
    band = np.tile(np.arange(bands, dtype=np.int32), len(rows))
    key = keys.ravel()
    mixed = (key.astype(np.uint64) * np.uint64(0x9E3779B1) + band.astype(np.uint64)) >> np.uint64(7)
    return pa.table({"part": (mixed % np.uint64(max(1, parts))).astype(np.int32), "band": band, "key": key,
                     "row": np.repeat(rows, bands)})


def partition_pairs(batch: pa.Table) -> pa.Table:
    """Step 2b on one shuffle partition: its buckets by an Arrow group-by, then `bucket_pairs`."""
    if batch.num_rows == 0:
        return pa.table({"i": pa.array([], pa.int64()), "j": pa.array([], pa.int64())})
    buckets = batch.select(["band", "key", "row"]).group_by(["band", "key"]).aggregate([("row", "list")])
    return bucket_pairs(pa.table({"rows": buckets.column("row_list")}))


def bucket_pairs(batch: pa.Table) -> pa.Table:
    """Step 2b: candidate pairs (i < j) of each bucket: all pairs up to GROUP_CAP rows, else a star."""
    lists = batch.column("rows").combine_chunks()
    sizes = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    values = lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    values = values[np.lexsort((values, owner))]
    starts = np.cumsum(sizes) - sizes
    shared = sizes >= 2
    starts, sizes = starts[shared], sizes[shared]
    left, right = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for size in np.unique(sizes[sizes <= GROUP_CAP]):
        members = values[starts[sizes == size][:, None] + np.arange(size)]
        a, b = np.triu_indices(size, 1)
        left.append(members[:, a].ravel())
        right.append(members[:, b].ravel())
    big = sizes > GROUP_CAP
    if big.any():
        spokes = sizes[big] - 1
        left.append(np.repeat(values[starts[big]], spokes))
        offsets = np.arange(int(spokes.sum())) - np.repeat(np.cumsum(spokes) - spokes, spokes)
        right.append(values[np.repeat(starts[big] + 1, spokes) + offsets])
    return pa.table({"i": np.concatenate(left), "j": np.concatenate(right)})


def pair_partitions(batch: pa.Table, parts: int) -> pa.Table:
    """Candidate pairs with `part`, a hash of (i, j) modulo `parts` (the pair-dedupe shuffle)."""
    i, j = (batch.column(c).to_numpy().astype(np.uint64) for c in ("i", "j"))
    mixed = (i * np.uint64(0x9E3779B97F4A7C15) ^ j) >> np.uint64(11)
    return batch.append_column("part", pa.array((mixed % np.uint64(max(1, parts))).astype(np.int32)))


def unique_pairs(batch: pa.Table) -> pa.Table:
    """The distinct (i, j) pairs of one pair partition."""
    if batch.num_rows == 0:
        return batch.select(["i", "j"])
    return batch.select(["i", "j"]).group_by(["i", "j"]).aggregate([])


def verify_batch(batch: pa.Table, threshold: float, num_perm: int) -> pa.Table:
    """Step 3: the candidate pairs `minhash.verify_pairs` accepts, with both rows' priorities."""
    out = batch.select(["i", "j", "priority_i", "priority_j"])
    m = batch.num_rows
    if m == 0:
        return out
    sigs = np.concatenate([_fixed(batch.column(f"sig_{s}"), num_perm, np.uint32) for s in "ij"])
    lists = [batch.column(f"shingles_{s}").combine_chunks() for s in "ij"]
    lengths = np.concatenate([pc.list_value_length(x).to_numpy(zero_copy_only=False) for x in lists]).astype(np.int64)
    values = np.concatenate([x.flatten().to_numpy(zero_copy_only=False) for x in lists]).astype(np.uint32)
    hashes = ShingleHashes(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), values)
    pairs = np.stack([np.arange(m), np.arange(m) + m], axis=1)
    accepted = verify_pairs(sigs, pairs, threshold, hashes)[:, 0]
    return out.take(pa.array(accepted))


def _side(signed: "Dataset", name: str) -> "Dataset":
    columns = {"row": name, "priority": f"priority_{name}", "sig": f"sig_{name}", "shingles": f"shingles_{name}"}
    return signed.select_columns(list(columns)).rename_columns(columns)


def verified_edges(signed: "Dataset", settings: MinHashSettings, params: LshParams,
                   engine: Engine) -> "Dataset | None":
    """Steps 2 and 3: buckets by group-by, candidate pairs, verification by two joins; None without
    candidate pairs (Ray's join of an empty side loses its columns: ColumnNotFoundError "j")."""
    parts = engine.shuffle_partitions
    triples = signed.map_batches(band_rows, fn_kwargs={"bands": params.bands, "parts": parts},
                                 batch_format="pyarrow", batch_size=None)
    pairs = (triples.groupby("part", num_partitions=parts).map_groups(partition_pairs, batch_format="pyarrow")
             .map_batches(pair_partitions, fn_kwargs={"parts": parts}, batch_format="pyarrow", batch_size=None)
             .groupby("part", num_partitions=parts).map_groups(unique_pairs, batch_format="pyarrow")).materialize()
    if pairs.count() == 0:
        return None
    joined = (pairs.join(_side(signed, "i"), "inner", num_partitions=parts, on=("i",))
              .join(_side(signed, "j"), "inner", num_partitions=parts, on=("j",)))
    return joined.map_batches(verify_batch, fn_kwargs={"threshold": params.threshold, "num_perm": settings.num_perm},
                              batch_format="pyarrow", batch_size=None, **task_kwargs(engine.dedupe))


def components(edges: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 4: (rows with an edge, their cluster id = smallest row of the component, their priority)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = (edges.column(c).to_numpy().astype(np.int64) for c in ("i", "j"))
    nodes, inverse = np.unique(np.concatenate([i, j]), return_inverse=True)
    if len(nodes) == 0:
        return nodes, nodes.copy(), np.zeros(0)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (inverse[:len(i)], inverse[len(i):])),
                       shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)  # nodes are sorted: the first node of a label is its smallest
    priority = np.empty(len(nodes))
    priority[inverse] = np.concatenate([edges.column("priority_i").to_numpy(), edges.column("priority_j").to_numpy()])
    return nodes, nodes[first[labels]], priority


def dropped_rows(nodes: np.ndarray, cluster: np.ndarray, priority: np.ndarray) -> pa.Table:
    """Step 5a: (row, dup_of) of every clustered row that is not its cluster's lowest (priority, row)."""
    order = np.lexsort((nodes, priority, cluster))
    head = np.ones(len(order), dtype=bool)
    head[1:] = cluster[order][1:] != cluster[order][:-1]
    winner_of_cluster = dict(zip(cluster[order][head].tolist(), nodes[order][head].tolist()))
    losers = order[~head]
    return pa.table({"row": nodes[losers].astype(np.int64),
                     "dup_of": np.array([winner_of_cluster[c] for c in cluster[losers].tolist()], dtype=np.int64)})


def remove(rows: "Dataset", dropped: pa.Table, engine: Engine) -> "Dataset":
    """Step 5b: the rows of `rows` (a dataset with a `row` column) that are not dropped: a left anti-join."""
    import ray.data

    return rows.join(ray.data.from_arrow(dropped), "left_anti", num_partitions=engine.shuffle_partitions, on=("row",))


def collect(ds: "Dataset") -> pa.Table | None:
    """The whole dataset as one Arrow table on the driver (None when it has no block)."""
    import ray

    tables = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    return pa.concat_tables(tables) if tables else None


def _rows_dataset(texts: list[str], priority: np.ndarray, batch_size: int) -> "Dataset":
    import ray.data

    table = pa.table({"row": np.arange(len(texts), dtype=np.int64), "text": texts, "priority": priority})
    return ray.data.from_arrow([table.slice(s, batch_size) for s in range(0, len(texts), batch_size)])


def dedupe(texts: Sequence[str], settings: MinHashSettings, scores: Sequence[float] | None = None,
           lengths: Sequence[int] | None = None, *, engine: Engine) -> DedupeResult:
    """`factory.filter.minhash.dedupe` on Ray Data: the same clusters, kept rows and `dup_of`."""
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise FactoryError(f"near-duplicate detection: row {bad} is {type(texts[bad]).__name__}, not text")
    priority = keep_priority(texts, settings, scores, lengths)
    n = len(texts)
    if n == 0:
        return DedupeResult(cluster=np.zeros(0, dtype=np.int64), keep=np.zeros(0, dtype=bool), dup_of=[])
    connect(engine)
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    rows = _rows_dataset(texts, priority, engine.dedupe.batch_size)
    signed = rows.map_batches(sign_batch, fn_kwargs={"settings": settings, "params": params}, batch_format="pyarrow",
                              batch_size=engine.dedupe.batch_size, **task_kwargs(engine.dedupe)).materialize()
    verified = verified_edges(signed, settings, params, engine)
    edges = collect(verified) if verified is not None else None
    nodes, node_cluster, node_priority = components(edges) if edges is not None else (np.zeros(0, np.int64),) * 3
    dropped = dropped_rows(nodes, node_cluster, node_priority)
    kept = collect(remove(rows.select_columns(["row"]), dropped, engine))
    cluster = np.arange(n, dtype=np.int64)
    cluster[nodes] = node_cluster
    keep = np.zeros(n, dtype=bool)
    if kept is not None:
        keep[kept.column("row").to_numpy()] = True
    dup_of: list[int | None] = [None] * n
    for row, ref in zip(dropped.column("row").to_pylist(), dropped.column("dup_of").to_pylist()):
        dup_of[row] = ref
    return DedupeResult(cluster=cluster, keep=keep, dup_of=dup_of)
