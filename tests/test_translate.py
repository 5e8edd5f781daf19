"""The translate kind: requests, pair ids across languages, checks with drop reasons, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from factory.core.errors import FactoryError
from factory.generate import translate
from factory.generate.translate_sources import parallel_records, read_pair_files
from factory.models.backends import Completion
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, read_records

REPO = Path(__file__).resolve().parent.parent


def make_recipe(**translate_changes) -> Recipe:
    """The tiny translate recipe, with changes to its `translate` section."""
    data = load_recipe(REPO / "recipes" / "tiny" / "translate.yaml").model_dump()
    data["translate"].update(translate_changes)
    return Recipe.model_validate(data)


def source(toxic: str, neutral: str, split: str = "train") -> Record:
    return Record.make("pair", lang="en", toxic=toxic, neutral=neutral, source="human", split=split)


class FakeBackend:
    """Replies by the text to translate (the last user turn); records every request."""

    name = "fake"

    def __init__(self, replies: dict[str, str]):
        self.replies, self.requests = replies, []

    def generate(self, requests, sampling):
        self.requests += list(requests)
        return [[self.replies.get(r.messages[-1]["content"], "")] for r in requests]

    def describe(self):
        return {"backend": self.name}


class StubSimilarity:
    def pairwise(self, left, right):
        return np.asarray([0.1 if "LOST" in b else 0.9 for b in right], dtype=float)


class StubScorers:
    """Similarity 0.9 (0.1 for outputs containing LOST); P(toxic) 0.9 for insults, else 0.1."""

    similarity = StubSimilarity()

    @staticmethod
    def toxicity(texts):
        insults = ("idiot", "dumm", "verdammt", "imbécil")
        return np.asarray([0.9 if any(w in t.lower() for w in insults) else 0.1 for t in texts])


GOOD = ("Du bist ein verdammter Idiot, lies den Artikel.", "Bitte lies zuerst den Artikel.")
CASES = {
    # name: (German toxic, German neutral, expected reason, expected side)
    "good": (*GOOD, None, None),
    "english_toxic": ("You are a damn idiot, read the article first.", GOOD[1], "wrong_language", "toxic"),
    "empty_neutral": (GOOD[0], "   ", "empty", "neutral"),
    "both_empty": ("", "", "empty", "both"),
    "mixed_script": ("Du bist ein Idiot, ты дурак и идиот", GOOD[1], "mixed_script", "toxic"),
    "cyrillic": ("Ты полный идиот, прочитай статью.", GOOD[1], "wrong_script", "toxic"),
    "refusal": ("I'm sorry, but I cannot translate offensive content.", GOOD[1], "refusal", "toxic"),
    "neutral_toxic": (GOOD[0], "Lies den Artikel, du Idiot.", "neutral_toxic", "neutral"),
    "toxicity_lost": ("Bitte lies den Artikel noch einmal genau.", GOOD[1], "toxicity_lost", "toxic"),
    "meaning_lost": (GOOD[0], "Das Wetter ist heute schön LOST.", "meaning_lost", "neutral"),
}


def _translated_rows(recipe: Recipe, sources: list[Record], outputs: list[tuple[str, str]]) -> list[Record]:
    replies = {}
    for pair, (toxic, neutral) in zip(sources, outputs):
        replies[pair.toxic], replies[pair.neutral] = toxic, neutral
    return translate.translate_pairs(recipe, FakeBackend(replies), sources, "de")


def test_requests_translate_each_side_into_the_target_language():
    recipe = make_recipe()
    backend = FakeBackend({})
    pairs = [source("you are an idiot", "you are wrong")]
    translate.translate_pairs(recipe, backend, pairs, "es")
    assert [r.messages[-1]["content"] for r in backend.requests] == ["you are an idiot", "you are wrong"]
    toxic_system, neutral_system = (r.messages[0]["content"] for r in backend.requests)
    assert "from English into Spanish" in toxic_system and "offensive" in toxic_system
    assert "keep it polite" in neutral_system
    again = translate.build_requests(recipe, pairs, "es")
    assert [r.key for r in again] == [r.key for r in backend.requests]  # stable keys: the request cache works


def test_translations_keep_pair_id_and_split_across_languages():
    recipe = make_recipe()
    pairs = [source("you idiot", "you are wrong"), source("shut up, fool", "please stop", split="test")]
    backend = FakeBackend({"you idiot": "du Idiot", "you are wrong": "du irrst dich",
                           "shut up, fool": "halt die Klappe", "please stop": "bitte hör auf"})
    german = translate.translate_pairs(recipe, backend, pairs, "de")
    spanish = translate.translate_pairs(recipe, backend, pairs, "es")
    assert [r.group for r in german] == [r.group for r in spanish] == [p.id for p in pairs]
    assert [r.split for r in german] == ["train", "test"]
    assert (german[0].lang, german[0].toxic, german[0].neutral) == ("de", "du Idiot", "du irrst dich")
    assert german[0].source == "synthetic:translate" and german[0].attributes["translated"] is True
    assert len({r.id for r in german + spanish}) == 4


def test_every_bad_translation_is_dropped_with_its_reason_and_side():
    recipe = make_recipe()
    sources = [source(f"toxic source {i}", f"neutral source {i}") for i in range(len(CASES))]
    rows = _translated_rows(recipe, sources, [case[:2] for case in CASES.values()])
    translate.check_rows(recipe, rows, sources, StubScorers())
    for (name, (_, _, reason, side)), row in zip(CASES.items(), rows):
        assert row.drop_reason == reason, name
        assert row.attributes.get("drop_side") == side, name
    good = rows[0]
    assert good.attributes["toxic_lang"] == "de" and good.attributes["toxic_similarity"] == pytest.approx(0.9)


def test_a_side_cut_at_the_token_limit_is_dropped_as_truncated():
    pair = source("you are a damn idiot", "you are wrong")
    replies = {pair.toxic: Completion(GOOD[0]), pair.neutral: Completion("Bitte lies zuerst den", truncated=True)}
    for enabled, reason in ((True, "truncated"), (False, None)):
        recipe = make_recipe(checks={"truncated": enabled})
        rows = translate.translate_pairs(recipe, FakeBackend(replies), [pair], "de")
        assert (rows[0].attributes["toxic_truncated"], rows[0].attributes["neutral_truncated"]) == (False, True)
        translate.check_rows(recipe, rows, [pair], StubScorers())
        assert rows[0].drop_reason == reason
        assert rows[0].attributes.get("drop_side") == ("neutral" if enabled else None)


def test_a_copy_of_the_source_is_dropped():
    recipe = make_recipe()
    pair = source("Du bist ein verdammter Idiot.", "Bitte lies den Artikel.")
    rows = _translated_rows(recipe, [pair], [(pair.toxic, "Bitte lies zuerst den Artikel.")])
    translate.check_rows(recipe, rows, [pair], StubScorers())
    assert rows[0].drop_reason == "copy" and rows[0].attributes["drop_side"] == "toxic"


def test_human_rows_get_language_checks_and_toxicity_checks_only_when_asked():
    human = [Record.make("pair", lang="de", toxic="Bitte lies den Artikel noch einmal.", neutral=GOOD[1]),
             Record.make("pair", lang="de", toxic="You are an idiot.", neutral=GOOD[1])]
    recipe = make_recipe()
    translate.check_rows(recipe, human, [None, None], StubScorers())
    assert [r.drop_reason for r in human] == [None, "wrong_language"]
    strict = make_recipe(checks={"human_rows": "all"})
    again = [Record.make("pair", lang="de", toxic="Bitte lies den Artikel noch einmal.", neutral=GOOD[1])]
    translate.check_rows(strict, again, [None], StubScorers())
    assert again[0].drop_reason == "toxicity_lost"


def _write_pair_files(folder: Path, lang: str, pairs: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, side in enumerate(("toxic", "neutral")):
        with (folder / f"{lang}_train_{side}.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([[pair[index]] for pair in pairs])


def test_misaligned_or_half_missing_pair_files_are_named(tmp_path):
    _write_pair_files(tmp_path, "de", [GOOD, GOOD])
    with (tmp_path / "de_train_neutral.csv").open("a", encoding="utf-8") as handle:
        handle.write("noch eine Zeile\n")
    with pytest.raises(FactoryError, match="de_train_toxic.csv has 2 rows but .*de_train_neutral.csv has 3"):
        read_pair_files(tmp_path, "de")
    (tmp_path / "es_train_toxic.csv").write_text("hola\n", encoding="utf-8")
    with pytest.raises(FactoryError, match="es_train_neutral.csv: missing"):
        read_pair_files(tmp_path, "es")
    assert read_pair_files(tmp_path, "zh") == []


def test_parallel_pairs_are_split_by_seed_with_their_own_group():
    rows = parallel_records(make_recipe(parallel="fixture"), "de")
    assert len(rows) == 40 and sum(r.split == "test" for r in rows) == 8
    assert all(r.group == r.id and r.source == "human" and r.lang == "de" for r in rows)
    assert [r.id for r in parallel_records(make_recipe(parallel="fixture"), "de")] == [r.id for r in rows]


def test_generate_stage_with_bad_parallel_input_drops_rows_and_never_crashes(tmp_path, monkeypatch):
    """The whole stage over messy human rows and empty translations (real language checks, stub scorers)."""
    from factory.stages import ingest

    messy = tmp_path / "parallel"
    _write_pair_files(messy, "de", [GOOD, ("You are an idiot.", "Please read it."), ("", ""),
                                    ("Du bist ein Idiot, ты дурак и идиот", GOOD[1]),
                                    ("Was für ein Blödsinn, du Depp.", "Ich stimme nicht zu.")])
    recipe = make_recipe(parallel=str(messy), max_test_pairs=2)  # targets de and es; no Spanish files
    root = tmp_path / "data"
    ingest.run(recipe, root=root)
    backend = FakeBackend({})  # every translation is empty
    monkeypatch.setattr(translate, "open_backend", lambda *args, **kwargs: backend)
    monkeypatch.setattr(translate, "Scorers", lambda recipe, root: StubScorers())
    out = translate.run(recipe, root=root, limit=3)
    rows, test = read_records(out / "rows.parquet"), read_records(out / "test.parquet")
    stats = json.loads((out / "stats.json").read_text())
    translated = [r for r in rows + test if r.attributes["translated"]]
    assert len(translated) == 10 and all(r.drop_reason == "empty" for r in translated)
    human = {r.toxic: r.drop_reason for r in rows + test if not r.attributes["translated"]}
    assert human["You are an idiot."] == "wrong_language"
    assert human[""] == "empty"
    assert human["Du bist ein Idiot, ты дурак и идиот"] == "mixed_script"
    assert human[GOOD[0]] is None
    assert stats["train"]["de"]["rows"] + stats["test"]["de"]["rows"] == 10  # 5 translated + 5 human
    assert stats["train"]["es"]["human"] + stats["test"]["es"]["human"] == 0
    assert stats["source_pairs"] == {"train": 3, "test": 2}
