"""Checks on the hand-written seed corpus in factory/data/seed."""

import csv
import json
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "factory" / "data" / "seed"


def read_pairs() -> list[dict[str, str]]:
    with open(SEED / "pairs.tsv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        assert reader.fieldnames == ["toxic", "neutral"]
        return list(reader)


def read_lines(name: str) -> list[str]:
    return (SEED / name).read_text(encoding="utf-8").splitlines()


def test_pairs_parse_complete_and_distinct():
    pairs = read_pairs()
    assert len(pairs) >= 320
    for number, row in enumerate(pairs, start=2):
        assert None not in row, f"line {number} has extra cells"
        assert row["toxic"] and row["toxic"].strip(), f"line {number}: empty toxic"
        assert row["neutral"] and row["neutral"].strip(), f"line {number}: empty neutral"
        assert row["toxic"].strip().lower() != row["neutral"].strip().lower(), number
    toxic = [row["toxic"] for row in pairs]
    neutral = [row["neutral"] for row in pairs]
    assert len(set(toxic)) == len(toxic)
    assert len(set(neutral)) == len(neutral)


@pytest.mark.parametrize(("name", "minimum"), [("neutral.txt", 300), ("toxic.txt", 150)])
def test_line_files_complete_and_distinct(name, minimum):
    lines = read_lines(name)
    assert len(lines) >= minimum
    assert all(line.strip() for line in lines)
    assert len(set(lines)) == len(lines)


def test_toxic_file_does_not_repeat_pairs():
    pair_toxic = {row["toxic"].strip().lower() for row in read_pairs()}
    assert not pair_toxic & {line.strip().lower() for line in read_lines("toxic.txt")}


def test_prompts_parse_with_expected_fields():
    objects = [json.loads(line) for line in read_lines("prompts.jsonl")]
    assert len(objects) >= 40
    for item in objects:
        text = item["prompt"]["text"]
        assert isinstance(text, str) and 4 <= len(text.split()) <= 12
        assert item["group"] in {"provocative", "neutral"}
    groups = [item["group"] for item in objects]
    assert groups.count("provocative") == groups.count("neutral")
    texts = [item["prompt"]["text"] for item in objects]
    assert len(set(texts)) == len(texts)


def test_toxic_sides_score_clearly_more_profane():
    profanity_check = pytest.importorskip("profanity_check")
    pairs = read_pairs()
    toxic = profanity_check.predict_prob([row["toxic"] for row in pairs])
    neutral = profanity_check.predict_prob([row["neutral"] for row in pairs])
    assert toxic.mean() - neutral.mean() >= 0.3, (toxic.mean(), neutral.mean())
