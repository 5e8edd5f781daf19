"""MinHash near-duplicates: parameters, shingles, datasketch compatibility, clusters, keep policies."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from factory.core.errors import FactoryError
from factory.filter import lsh
from factory.filter import sketch as kernels
from factory.filter.minhash import (clusters, contamination, dedupe, exact_duplicates, optimal_params, shingle_hash,
                                    shingles, signatures, sketch, to_datasketch, verify_pairs)
from factory.recipe.filter import MinHashSettings

BASE = "the quick brown fox jumps over the lazy dog near the river bank today"
NEAR = BASE + " again"                      # 13 of 14 word bigrams shared: Jaccard 0.93
SAME = "The quick, brown fox jumps over the LAZY dog near the river-bank today!"
FAR = "completely different words here about something else entirely"


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.85, 0.9])
@pytest.mark.parametrize("num_perm, weight", [(64, 0.5), (128, 0.5), (128, 0.3), (256, 0.5)])
def test_optimal_params_agree_with_datasketch(threshold, num_perm, weight):
    params = optimal_params(threshold, num_perm, weight)
    assert (params.bands, params.rows) == _optimal_param(threshold, num_perm, weight, 1 - weight)
    assert params.bands * params.rows <= num_perm and params.threshold == threshold


def test_shingles_rules():
    assert shingles("Hello, big world!") == ["hello big", "big world"]
    assert shingles("Hello") == ["hello"]
    assert shingles("") == [] and shingles("?!") == []
    assert shingles("abcd", "char", 3) == ["abc", "bcd"]
    assert shingles("ab", "char", 3) == ["ab"]
    assert shingles("a b c", "word", 3) == ["a b c"]
    with pytest.raises(ValueError):
        shingles("a", "sentence", 2)


def test_vectorised_hash_equals_scalar_hash():
    rng = random.Random(3)
    alphabet = "ab c\u00e9\u4e2d😀"
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(200)]
    strings.append("x" * 100_000)
    codes = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32)
    ends = np.cumsum([len(s) for s in strings])
    hashes = kernels.span_hashes(codes, ends - [len(s) for s in strings], ends)
    assert hashes.tolist() == [shingle_hash(s) for s in strings]
    assert shingle_hash("ab".encode()) == shingle_hash("ab") != shingle_hash("ba")


@pytest.mark.parametrize("shingle, ngram", [("word", 2), ("word", 1), ("char", 3), ("char", 5)])
def test_signatures_equal_datasketch_minhash_with_our_hashfunc(shingle, ngram):
    texts = [BASE, NEAR, FAR, "", "hi", "x\x00y " * 3]
    sigs = signatures(texts, shingle=shingle, ngram=ngram, seed=5)
    assert sigs.dtype == np.uint32 and sigs.shape == (len(texts), 128)
    for text, row in zip(texts, sigs):
        reference = MinHash(num_perm=128, seed=5, hashfunc=shingle_hash)
        reference.update_batch(shingles(text, shingle, ngram))
        assert np.array_equal(reference.hashvalues, row)


def test_to_datasketch_works_with_minhash_lsh_and_jaccard_agrees():
    texts = [BASE, NEAR, FAR, SAME]
    sigs = signatures(texts)
    sketches = [to_datasketch(row) for row in sigs]
    index = MinHashLSH(threshold=0.7, num_perm=128)
    for key, sketch_ in enumerate(sketches):
        index.insert(key, sketch_)
    assert set(index.query(sketches[0])) == {0, 1, 3}
    assert index.query(sketches[2]) == [2]
    pairs = np.array([[0, 1], [0, 2], [1, 2], [0, 3]])
    ours = lsh.estimated_jaccard(sigs, pairs)
    assert ours.tolist() == [sketches[i].jaccard(sketches[j]) for i, j in pairs]
    assert ours[0] > 0.8 and ours[1] < 0.2 and ours[3] == 1.0


def test_clusters_identical_near_and_far():
    texts = [BASE, FAR, SAME, NEAR, FAR + " indeed yes", "something new entirely unrelated"]
    cluster = clusters(signatures(texts), optimal_params(0.7, 128))
    assert cluster.tolist() == [0, 1, 0, 0, 1, 5]


def test_big_bucket_of_copies_is_one_cluster():
    texts = ["you are an idiot"] * 40 + [FAR]
    cluster = clusters(signatures(texts), optimal_params(0.7, 128))
    assert cluster.tolist() == [0] * 40 + [40]


def test_bad_input_empty_nul_and_long_lines():
    texts = ["", "a\x00b c", "", "word " * 200_000, "   ", BASE]
    sigs = signatures(texts)
    assert (sigs[0] == 0xFFFFFFFF).all() and (sigs[2] == 0xFFFFFFFF).all()
    assert (sigs[1] != 0xFFFFFFFF).all() and (sigs[3] != 0xFFFFFFFF).all()
    cluster = clusters(sigs, optimal_params(0.7, 128))
    assert cluster[0] == cluster[2] == cluster[4] == 0 and len(set(cluster.tolist())) == 4
    with pytest.raises(FactoryError, match="row 1"):
        signatures(["ok", b"bytes"])


def test_keep_policies_and_dup_of():
    texts = [BASE, NEAR, FAR, SAME]
    first = dedupe(texts, MinHashSettings(keep="first"))
    assert first.keep.tolist() == [True, False, True, False]
    assert first.dup_of == [None, 0, None, 0]
    longest = dedupe(texts, MinHashSettings(keep="longest"))
    assert longest.keep.tolist() == [False, True, True, False] and longest.dup_of == [1, None, None, 1]
    by_score = dedupe(texts, MinHashSettings(keep="attribute", keep_attribute="q"), scores=[0.1, 0.2, 0.0, 0.9])
    assert by_score.keep.tolist() == [False, False, True, True] and by_score.dup_of[0] == 3
    tie = dedupe(texts, MinHashSettings(keep="attribute", keep_attribute="q"), scores=[0.5, float("nan"), 0, 0.5])
    assert tie.keep.tolist() == [True, False, True, False]
    lengths = dedupe(texts, MinHashSettings(keep="longest"), lengths=[1, 1, 1, 9])
    assert lengths.keep.tolist() == [False, False, True, True]
    with pytest.raises(FactoryError, match="keep_attribute"):
        dedupe(texts, MinHashSettings(keep="attribute", keep_attribute="q"))


def test_exact_duplicates_on_normalised_text():
    texts = ["Hello world", "hello,  WORLD!", "other", "hello world", "Other."]
    assert exact_duplicates(texts) == [None, 0, None, 0, 2]
    assert exact_duplicates([]) == []


def test_contamination_finds_exact_and_near_reference_rows():
    reference = [FAR, "unrelated line", BASE, SAME]
    texts = [NEAR, "brand new sentence with nothing shared", "UNRELATED line!!", BASE]
    assert contamination(texts, reference, MinHashSettings()) == [2, None, 1, 2]
    assert contamination(texts, [], MinHashSettings()) == [None] * 4
    assert contamination([], reference, MinHashSettings()) == []


def test_char_shingles_catch_character_edits():
    a, b = "you are an idiiot", "you are an idiot"
    word = clusters(signatures([a, b], shingle="word", ngram=2), optimal_params(0.7, 128))
    char = clusters(signatures([a, b], shingle="char", ngram=3), optimal_params(0.7, 128))
    assert word.tolist() == [0, 1] and char.tolist() == [0, 0]


def test_set_jaccard_matches_python_sets():
    rng = random.Random(1)
    sets = [sorted(rng.sample(range(50), rng.randrange(0, 12))) for _ in range(40)]
    indptr = np.cumsum([0] + [len(s) for s in sets])
    values = np.array([v for s in sets for v in s], dtype=np.uint32)
    pairs = np.array([(i, j) for i in range(40) for j in range(i + 1, 40)])
    expected = [len(set(sets[i]) & set(sets[j])) / len(set(sets[i]) | set(sets[j])) if sets[i] or sets[j] else 1.0
                for i, j in pairs]
    assert lsh.set_jaccard(indptr, values, pairs) == pytest.approx(expected)


def test_border_pairs_are_decided_by_exact_jaccard():
    words = [f"w{i}" for i in range(20)]                  # 19 bigrams
    base = " ".join(words)
    above = base + " " + " ".join(f"x{i}" for i in range(8))   # Jaccard 19/27 = 0.704
    below = base + " " + " ".join(f"y{i}" for i in range(9))   # Jaccard 19/28 = 0.679
    texts = [base, above, below]
    sigs, hashes = sketch(texts)
    pairs = np.array([[0, 1], [0, 2]])
    assert verify_pairs(sigs, pairs, 0.7, hashes).tolist() == [[0, 1]]
    indptr, values = hashes.sets(np.array([2, 0]))
    assert np.diff(indptr).tolist() == [28, 19] and (np.diff(values[:28].astype(np.int64)) > 0).all()
    settings = MinHashSettings(threshold=0.7)
    # LSH may miss, never a false hit
    assert contamination([above, below], [base], settings) in ([0, None], [None, None])
