"""Normalisation rules of factory.core.text, and the vectorised batch path agreeing with them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from factory.core.errors import FactoryError
from factory.core.text import normalise, normalise_many, normalised_codepoints, words


@pytest.mark.parametrize("raw, expected", [
    ("Hello,  World!!", "hello world"),
    ("Don't STOP", "dont stop"),
    ("don\u2019t stop", "dont stop"),
    ("ＦＵＬＬ width ﬁne", "full width fine"),
    ("Straße", "strasse"),
    ("  lead\tand\ntrail  ", "lead and trail"),
    ("a\x00b", "a b"),
    ("zero\u200bwidth", "zerowidth"),
    ("well-known_fact (really)", "well known fact really"),
    ("f*ck off", "f*ck off"),
    ("price $5 + tax 😀", "price $5 + tax 😀"),
    ("...!?", ""),
    ("", ""),
])
def test_normalise_rules(raw, expected):
    assert normalise(raw) == expected


def test_normalise_is_idempotent():
    for text in ["Hello,  World!!", "Don't STOP", "ＦＵＬＬ width", "a - b"]:
        assert normalise(normalise(text)) == normalise(text)


def test_batch_path_equals_single_path_on_random_strings():
    alphabet = list("ab Z.,'’-\t\n\x00\u200b\u00a0éÉﬁ１*😀_") + ["\udcff"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(500)]
    assert normalise_many(texts) == [normalise(t) for t in texts]


def test_codepoints_and_offsets_describe_rows():
    codes, offsets = normalised_codepoints(["A  b", "", "c!"])
    assert offsets.tolist() == [0, 3, 3, 4]
    assert codes.tobytes().decode("utf-32-le") == "a bc"


def test_non_string_row_is_named():
    with pytest.raises(FactoryError, match="row 1"):
        normalise_many(["ok", None])


def test_words_regex_splits_punctuation_and_lowercases():
    assert words("You're an IDIOT!!") == ["you", "'", "re", "an", "idiot", "!", "!"]
    assert words("") == []
    assert words("ＡＢＣ 123") == ["abc", "123"]


def test_long_line_and_empty_rows_do_not_break_batch():
    long = "word " * 200_000
    codes, offsets = normalised_codepoints(["", long, ""])
    assert np.diff(offsets).tolist() == [0, len(long) - 1, 0]
