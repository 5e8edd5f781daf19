"""Unit tests of stage logic that needs no model: ingest splits, mixes, checks, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from factory import metrics
from factory.checks import check_outputs, is_refusal
from factory.core.errors import FactoryError
from factory.stages.ingest import Tally, pairs_from_rows, read_table, split_by_toxic
from factory.ingest_read import SourceRows
from factory.stages.mix import fillable_size, make_mix
from factory.recipe import Recipe
from factory.recipe.generate import Checks
from factory.core.records import Record


def _recipe(**human) -> Recipe:
    return Recipe(name="t", kind="toxify", human={"neutral_columns": ["neutral1", "neutral2"], **human})


def _pairs(rows: list[dict]) -> list[Record]:
    table = SourceRows("t.tsv", "line", len(rows), rows=list(enumerate(rows, start=2)))
    return pairs_from_rows(table, _recipe(), Tally())


def test_paraphrases_of_one_toxic_sentence_share_a_split():
    rows = [{"toxic": f"toxic {i}", "neutral1": f"a {i}", "neutral2": f"b {i}" if i % 2 else ""} for i in range(50)]
    records = split_by_toxic(_pairs(rows), 0.2, seed=1, max_rows=None)
    assert len(records) == 75
    splits = {}
    for r in records:
        splits.setdefault(r.toxic, set()).add(r.split)
    assert all(len(s) == 1 for s in splits.values())
    assert sum(s == {"test"} for s in splits.values()) == 10
    again = split_by_toxic(_pairs(rows), 0.2, seed=1, max_rows=None)
    assert [(r.id, r.split) for r in again] == [(r.id, r.split) for r in records]


def test_max_rows_caps_whole_groups_from_both_splits():
    rows = [{"toxic": f"toxic {i}", "neutral1": f"a {i}", "neutral2": f"b {i}"} for i in range(50)]
    records = split_by_toxic(_pairs(rows), 0.2, seed=1, max_rows=20)
    assert len(records) == 20 and {r.split for r in records} == {"train", "test"}


def test_quoted_multiline_tsv_cells_are_read(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text('toxic\tneutral1\tneutral2\n"line one\nline two"\tok\t\nplain\tfine\talso fine\n')
    pairs = pairs_from_rows(read_table(str(path), ["toxic", "neutral1", "neutral2"]), _recipe(), Tally())
    assert [p.toxic for p in pairs] == ["line one\nline two", "plain", "plain"]


def test_missing_column_names_file_and_row(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("toxic,neutral\nx,y\n")
    with pytest.raises(FactoryError, match=r"p.csv: no column 'neutral1' \(columns: toxic, neutral\)"):
        read_table(str(path), ["toxic", "neutral1", "neutral2"])


def test_nul_bytes_and_bad_encoding_are_named(tmp_path):
    nul = tmp_path / "nul.tsv"
    nul.write_text("toxic\tneutral1\tneutral2\nbad\x00cell\tx\ty\n")
    table = read_table(str(nul), ["toxic", "neutral1", "neutral2"])
    with pytest.raises(FactoryError, match="line 2, column 'toxic': contains a NUL byte"):
        pairs_from_rows(table, _recipe(), Tally())
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("toxic\tneutral1\nd\xe9j\xe0\tx\n".encode("latin-1"))
    with pytest.raises(FactoryError, match="latin.tsv: not UTF-8"):
        read_table(str(latin), ["toxic", "neutral1"])


def test_fillable_size_and_mix_shares():
    assert fillable_size([0.0, 0.5, 1.0], n_synthetic=40, n_human=100) == 40
    assert fillable_size([0.0, 0.25], n_synthetic=10, n_human=30) == 30
    syn = [Record.make("pair", toxic=f"s{i}", neutral=f"n{i}", source="synthetic:toxify") for i in range(40)]
    hum = [Record.make("pair", toxic=f"h{i}", neutral=f"m{i}") for i in range(100)]
    for ratio in (0.0, 0.25, 0.5, 1.0):
        mix = make_mix(syn, hum, ratio, 40, seed=3)
        assert len(mix) == 40 and len({r.id for r in mix}) == 40
        assert sum(r.source != "human" for r in mix) == round(ratio * 40)
        assert [r.id for r in make_mix(syn, hum, ratio, 40, seed=3)] == [r.id for r in mix]


@pytest.mark.parametrize("text", ["I cannot create content that is offensive.", "I'm sorry, but I can't help",
                                  "  \"I apologize, but", "As an AI, I won't", "Sorry, I can't do that",
                                  "I can't fulfill that request."])
def test_refusals_are_found(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", ["I cannot believe how bad this referee is", "Icannot help",
                                  "you cannot be serious, idiot", "I can't stand this moron", "Sorryyy"])
def test_non_refusals_pass(text):
    assert not is_refusal(text)


def test_checks_give_the_first_failing_reason():
    inputs = ["a nice day", "a nice day", "a nice day", "a nice day", "a nice day", "a nice day"]
    outputs = ["", "I'm sorry, I can't", "A nice day!", "totally different", "a nice day you idiot",
               "a nice day you idiot"]
    sim = np.array([0.0, 0.1, 0.99, 0.05, 0.8, 0.8])
    tox = np.array([0.0, 0.0, 0.0, 0.9, 0.9, 0.1])
    reasons = check_outputs(inputs, outputs, checks=Checks(min_similarity=0.3), direction="toxify",
                            similarity=sim, toxicity=tox)
    assert reasons == ["empty", "refusal", "copy", "meaning_lost", None, "wrong_direction"]


def test_a_truncated_output_is_dropped_unless_the_check_is_off():
    inputs = ["a nice day"] * 4
    outputs = ["a nice day you absolute", "", "a nice day you idiot", "a nice day you idiot"]
    sim, tox = np.array([0.8, 0.0, 0.8, 0.8]), np.array([0.9, 0.0, 0.9, 0.9])
    flags = [True, True, False, True]
    on = check_outputs(inputs, outputs, checks=Checks(), direction="toxify", similarity=sim, toxicity=tox,
                       truncated=flags)
    assert on == ["truncated", "empty", None, "truncated"]
    off = check_outputs(inputs, outputs, checks=Checks(truncated=False), direction="toxify", similarity=sim,
                        toxicity=tox, truncated=flags)
    assert off == [None, "empty", None, None]
    unknown = check_outputs(inputs, outputs, checks=Checks(), direction="toxify", similarity=sim, toxicity=tox)
    assert unknown == [None, "empty", None, None]


def test_joint_score_is_the_mean_of_products():
    sta, sim, fl = np.array([1.0, 0.5]), np.array([0.8, -0.2]), np.array([0.5, 1.0])
    assert metrics.summary(sta, sim, fl)["J"] == pytest.approx((1.0 * 0.8 * 0.5 + 0.0) / 2)
    assert list(metrics.as_scores(np.array([0.2, 0.5, 0.9]), "argmax")) == [0.0, 1.0, 1.0]


def test_reference_scores_take_ragged_reference_lists():
    scores = metrics.reference_scores(["the cat sat", "hello"], [["the cat sat"], ["hello", "hi"]])
    assert scores["ChrF"] == pytest.approx(100.0)
