"""The Ray dedupe's per-batch steps equal the local engine's, without starting Ray (seconds).

`tests/test_ray.py` runs the whole dataflow on a local Ray; these tests pin each step to
the local kernels directly, so a change on either side shows up at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from factory.engines import ray_dedupe
from factory.filter import lsh
from factory.filter.minhash import dedupe, optimal_params, sketch, verify_pairs
from factory.recipe import load_recipe
from factory.recipe.filter import MinHashSettings

REPO = Path(__file__).resolve().parent.parent
TEXTS = (["the cat sat on the mat today", "the cat sat on the mat today!", "a dog ran in the park at noon",
          "a dog ran in the park at night", "", "", "completely different words here now"]
         + ["many copies of one sentence here"] * 20 + ["many copies of one sentence there"])


def signed_table(texts: list[str], settings: MinHashSettings) -> tuple[pa.Table, object]:
    params = optimal_params(settings.threshold, settings.num_perm, settings.false_positive_weight)
    table = pa.table({"row": np.arange(len(texts)), "text": texts, "priority": np.zeros(len(texts))})
    return ray_dedupe.sign_batch(table, settings, params), params


def test_band_keys_are_the_local_band_keys():
    settings = MinHashSettings()
    sigs = sketch(TEXTS, num_perm=settings.num_perm)[0]
    params = optimal_params(settings.threshold, settings.num_perm)
    assert np.array_equal(ray_dedupe.band_keys(sigs, params), lsh.band_keys(sigs, params.bands, params.rows).T)


def test_bucket_pairs_over_all_bands_are_the_local_candidates():
    settings = MinHashSettings()
    signed, params = signed_table(TEXTS, settings)
    triples = ray_dedupe.band_rows(signed, params.bands).to_pandas()
    buckets = triples.groupby(["band", "key"])["row"].apply(list).reset_index(name="rows")
    pairs = ray_dedupe.bucket_pairs(pa.Table.from_pandas(buckets[["rows"]], preserve_index=False))
    found = sorted(set(zip(pairs.column("i").to_pylist(), pairs.column("j").to_pylist())))
    sigs = sketch(TEXTS, num_perm=settings.num_perm)[0]
    assert found == [tuple(p) for p in lsh.candidate_pairs(sigs, params.bands, params.rows).tolist()]
    assert any(j - i > 1 for i, j in found) and len(found) < 20 * 19 // 2, "the 20 copies form a star, not a clique"


@pytest.mark.parametrize("keep", ["first", "longest", "attribute"])
def test_verification_components_and_keep_give_the_local_result(keep):
    settings = MinHashSettings(keep=keep, keep_attribute="score")
    scores = [float((i * 5) % 3) for i in range(len(TEXTS))]
    local = dedupe(TEXTS, settings, scores)
    signed, params = signed_table(TEXTS, settings)
    signed = signed.set_column(1, "priority", pa.array(ray_dedupe.keep_priority(TEXTS, settings, scores)))
    sigs, hashes = sketch(TEXTS, num_perm=settings.num_perm)
    pairs = lsh.candidate_pairs(sigs, params.bands, params.rows)
    columns = {}
    for side, index in (("i", pairs[:, 0]), ("j", pairs[:, 1])):
        part = signed.take(pa.array(index))
        columns |= {side: index, f"priority_{side}": part.column("priority"), f"sig_{side}": part.column("sig"),
                    f"shingles_{side}": part.column("shingles")}
    edges = ray_dedupe.verify_batch(pa.table(columns), params.threshold, settings.num_perm)
    expected = verify_pairs(sigs, pairs, params.threshold, hashes)
    assert (sorted(zip(edges.column("i").to_pylist(), edges.column("j").to_pylist()))
            == sorted(map(tuple, expected.tolist())))
    nodes, cluster, priority = ray_dedupe.components(edges)
    assert cluster.tolist() == local.cluster[nodes].tolist()
    dropped = ray_dedupe.dropped_rows(nodes, cluster, priority)
    assert sorted(dropped.column("row").to_pylist()) == [i for i, k in enumerate(local.keep) if not k]
    assert all(local.dup_of[r] == d
               for r, d in zip(dropped.column("row").to_pylist(), dropped.column("dup_of").to_pylist()))


def test_recipes_name_what_cannot_run_on_ray():
    from factory.recipe.engine import engine_problems
    from factory.recipe.schema import Recipe

    recipe = load_recipe(REPO / "recipes" / "tiny" / "toxify.yaml")
    data = recipe.model_dump(mode="json") | {"engine": {"name": "ray"}}
    with pytest.raises(ValueError, match="generate.backend: engine ray generates with vllm"):
        Recipe.model_validate(data)
    data["generate"]["backend"] = "openai"
    assert Recipe.model_validate(data).engine.name == "ray"
    assert engine_problems("selfgen", "vllm", Recipe.model_validate(data).engine)[0].startswith(
        "engine.name: ray runs kinds")


def test_local_runs_never_import_ray():
    code = ("import sys, factory.stages.filter, factory.generate.rewrite, factory.engines.ray_dedupe, "
            "factory.engines.ray_generate; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_partition_pairs_over_all_partitions_are_the_local_candidates():
    """The hash-partitioned bucket step finds exactly the local candidate pairs, whatever the partition count."""
    settings = MinHashSettings()
    signed, params = signed_table(TEXTS, settings)
    sigs = sketch(TEXTS, num_perm=settings.num_perm)[0]
    local = [tuple(p) for p in lsh.candidate_pairs(sigs, params.bands, params.rows).tolist()]
    for parts in (1, 3, 7):
        triples = ray_dedupe.band_rows(signed, params.bands, parts)
        part = triples.column("part").to_numpy()
        assert set(part.tolist()) <= set(range(parts))
        found = set()
        for p in range(parts):
            pairs = ray_dedupe.partition_pairs(triples.filter(pa.array(part == p)))
            found |= set(zip(pairs.column("i").to_pylist(), pairs.column("j").to_pylist()))
        assert sorted(found) == local, parts


def test_pair_shuffle_leaves_each_candidate_pair_once():
    settings = MinHashSettings()
    signed, params = signed_table(TEXTS, settings)
    pairs = ray_dedupe.partition_pairs(ray_dedupe.band_rows(signed, params.bands, 1))
    assert pairs.num_rows > len(set(zip(pairs.column("i").to_pylist(), pairs.column("j").to_pylist())))
    tagged = ray_dedupe.pair_partitions(pairs, 3)
    part = tagged.column("part").to_numpy()
    found = []
    for p in range(3):
        unique = ray_dedupe.unique_pairs(tagged.filter(pa.array(part == p)))
        found += list(zip(unique.column("i").to_pylist(), unique.column("j").to_pylist()))
    assert len(found) == len(set(found))
    assert set(found) == set(zip(pairs.column("i").to_pylist(), pairs.column("j").to_pylist()))


def test_the_ray_engine_reuses_the_local_band_hash_and_keep_priority():
    """One definition each: the Ray dataflow imports the local engine's band multipliers, group cap and keep rule."""
    from factory.filter import minhash

    assert ray_dedupe.keep_priority is minhash.keep_priority and ray_dedupe.GROUP_CAP is lsh.GROUP_CAP
    sigs = np.random.default_rng(3).integers(0, 1 << 32, size=(40, 128), dtype=np.uint64).astype(np.uint32)
    params = minhash.optimal_params(0.7, 128)
    assert np.array_equal(ray_dedupe.band_keys(sigs, params), lsh.band_keys(sigs, params.bands, params.rows).T)
