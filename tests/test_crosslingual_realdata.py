"""The project's split selects the reference's train rows (../shared/data/multilingual_paradetox).

The shared files hold, per language, the 300 train rows the reference's code selected
(`dataset.shuffle(seed=42)`, rows 0-299) in that order. Two checks:

- `test_split_matches_the_hub_rows`: when `textdetox/multilingual_paradetox` is in the local Hub
  cache, the project's reader and split select exactly those rows, in order, for every language
  (skipped offline without the cache).
- `test_split_inverts_to_the_shared_rows`: without the Hub data. It places the shared rows of
  each language at the positions the seed-42 shuffle of a 400-row split takes them from
  (filler elsewhere), writes that as a folder source, and runs the project's folder reader and
  split on it: the train rows must come back equal to the shared rows, in order. This proves
  the project's selection is the reference's index mapping for 400-row languages (the size of
  each language's split in the dataset) and that reading and splitting keep the rows intact;
  it does not prove the Hub's row order, which only the first test checks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from factory.crossft import split
from factory.recipe.crosslingual import PAPER_LANGUAGES

pytestmark = pytest.mark.realdata
ROWS_PER_LANGUAGE = 400


def _shared(shared_data: Path, lang: str) -> list[tuple[str, str]]:
    folder = shared_data / "multilingual_paradetox"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return split.folder_pairs(folder, lang, "shared")


def _write(folder: Path, lang: str, pairs: list[tuple[str, str]]) -> None:
    for side, index in (("toxic", 0), ("neutral", 1)):
        with (folder / f"{lang}_train_{side}.csv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([[pair[index]] for pair in pairs])


@pytest.mark.parametrize("lang", PAPER_LANGUAGES)
def test_split_inverts_to_the_shared_rows(shared_data, tmp_path, lang):
    shared = _shared(shared_data, lang)
    assert len(shared) == 300
    order = split.shuffled_order(ROWS_PER_LANGUAGE, 42)
    original = [(f"filler toxic {i}", f"filler neutral {i}") for i in range(ROWS_PER_LANGUAGE)]
    for position, pair in zip(order, shared):
        original[position] = pair
    _write(tmp_path, lang, original)
    train, test = split.split_pairs(split.folder_pairs(tmp_path, lang, "here"), 42, 300, 100, "here")
    assert train == shared
    assert all(toxic.startswith("filler toxic") for toxic, _ in test)


@pytest.mark.parametrize("lang", PAPER_LANGUAGES)
def test_split_matches_the_hub_rows(shared_data, lang):
    shared = _shared(shared_data, lang)
    try:
        pairs = split.hub_pairs("textdetox/multilingual_paradetox", lang, ("toxic_sentence", "neutral_sentence"),
                                None, "hub")
    except Exception as exc:  # offline without the dataset in the cache
        pytest.skip(f"textdetox/multilingual_paradetox is not available offline ({type(exc).__name__})")
    train, _ = split.split_pairs(pairs, 42, 300, 100, "hub")
    assert train == shared
