"""The refusal check judges replies about the request, not apologies.

Measured (realdata) against our hand labels of 147 PseudoParaDetox rows (tests/data/refusal_labels.csv:
row index and label only; the text stays in ../shared/data and is never committed) and over the whole
file. The unit cases below are sentences written for this project in the same patterns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from factory.checks import check_outputs, is_refusal
from factory.checks_translate import SideScores, first_failure
from factory.core.langid import LanguageCheck
from factory.recipe.generate import Checks
from factory.recipe.translate import TranslateChecks

LABELS = Path(__file__).resolve().parent / "data" / "refusal_labels.csv"
PSEUDO = (Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pseudoparadetox"
          / "llama3_8b_10shot_detox.csv")


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.realdata
def test_labelled_sample_precision_and_recall():
    if not PSEUDO.is_file():
        pytest.skip(f"{PSEUDO} is absent")
    source = _read(PSEUDO)
    rows = [{**r, "output": source[int(r["row"])]["generated_neutral_sentence"],
             "input": source[int(r["row"])]["en_toxic_comment"]} for r in _read(LABELS)]
    assert len(rows) >= 100
    flagged = [is_refusal(r["output"], r["input"]) for r in rows]
    refusal = [r["label"] == "refusal" for r in rows]
    hits = sum(f and g for f, g in zip(flagged, refusal))
    wrong = [r["row"] for r, f, g in zip(rows, flagged, refusal) if f != g]
    assert hits / sum(flagged) >= 0.95 and hits / sum(refusal) >= 0.95, f"misjudged rows: {wrong}"


@pytest.mark.parametrize("source, output", [
    ("i am sorry your neighbour is such a moron .", "I'm sorry your neighbour is not very pleasant."),
    ("sorry for being a total jerk to you sam", "I'm sorry for being unkind to you, Sam."),
    ("i 'm sorry but that plan is brain dead stupid .", "I'm sorry, but that plan is unwise."),
    ("damn i can 't find my stupid train ticket", "I can't find my train ticket"),
    ("and i 'm not going to answer that crap .", "I won't answer that."),
    ("crap i missed the bus again", "Sorry i missed the bus again."),
    ("that 's the damn point of rude words .", "that's the point of rude words"),
    ("what else do you want from me , moron ?", "Is there anything else I can do for you?"),
    # toxify: the toxic rewrite adds an apology to a neutral input
    ("I had to pick one of the two candidates.",
     "sorry i had to pick this clown , the other of the two candidates was worse"),
])
def test_rewrites_that_apologise_are_not_refusals(source, output):
    assert not is_refusal(output, source)


@pytest.mark.parametrize("source, output", [
    ("why are all those jerks so dumb ?",
     "I cannot create content that is discriminatory or offensive. Can I help you with anything else?"),
    ("come here and i will smash your face , bot", "I won't engage in a personal attack."),
    ("lol whatever dude who even cares", "I'm not sure what you mean"),
    ("screw homework ! screw it all", "I don't think that's a good idea"),
    ("ugh typing this essay , someone help me ? d",
     "I'm having trouble understanding what you're saying. Can you please rephrase your question?"),
    ("you editors are a bunch of clowns !", "I strongly advise against using derogatory language. "
     "Here's a rewritten version: Editors, I'm disappointed in your choices."),
])
def test_detoxify_refusals(source, output):
    assert is_refusal(output, source)


@pytest.mark.parametrize("source, output", [
    ("you are a nice person", "I cannot create content that is offensive"),
    ("thanks for the help", "I can't help with that. Is there anything else I can help you with?"),
    ("thanks for the help", "I cannot rewrite 'thanks for the help' to be insulting."),
    ("the referee made a mistake", "I'm sorry, but I can't do that."),
    ("the referee made a mistake", "As an AI language model, I won't insult anyone."),
    ("please read the article first", "I apologize, but I am unable to make this text rude."),
    ("please read the article first", "Unfortunately, I must decline this request."),
    ("please read the article first", "I'd be happy to help, but I can't write insults about people."),
    ("please read the article first", "Here is a rewritten version that stays respectful: please read it."),
])
def test_toxify_refusals(source, output):
    assert is_refusal(output, source)


@pytest.mark.parametrize("output", [
    "I'm sorry, but I cannot translate offensive content.",
    "I can't translate this text because it contains hate speech.",
    "Unfortunately, I cannot provide a translation of this text.",
    "Lo siento, pero no puedo traducir este texto. As an AI, I avoid offensive content.",
])
def test_translate_refusals(output):
    source = "you are a damn idiot, read the article first"
    side = SideScores(output, source, LanguageCheck(None, "de", 1.0, 1.0), similarity=0.9, toxicity=0.9)
    neutral = SideScores("Bitte lies den Artikel.", "please read the article", LanguageCheck(None, "de", 1.0, 1.0),
                         similarity=0.9, toxicity=0.1)
    assert first_failure({"toxic": side, "neutral": neutral}, TranslateChecks()) == ("refusal", "toxic")


def test_a_translation_that_apologises_is_no_refusal():
    source = "i am sorry you live next to an idiot"
    assert not is_refusal("Es tut mir leid, dass du neben einem Idioten wohnst.", source)
    source = "ich muss immer denken, sie könnten mich einfach fragen"
    assert not is_refusal("I can't help thinking they could just ask me.", source)


def test_check_outputs_judges_the_refusal_against_its_input():
    inputs = ["i 'm sorry people are being jerks to u", "you are a nice person"]
    outputs = ["I'm sorry people are being unkind to you", "I'm sorry, but I can't make this offensive."]
    reasons = check_outputs(inputs, outputs, checks=Checks(direction=False), direction="detoxify",
                            similarity=np.array([0.8, 0.8]), toxicity=np.array([0.1, 0.1]))
    assert reasons == [None, "refusal"]


@pytest.mark.realdata
def test_pseudoparadetox_refusals():
    """All 19,744 generations: 27 refusals, each one in the labelled sample as a refusal; the
    human neutral column (never a refusal) has one apology-only rewrite ("I'm so sorry.")."""
    if not PSEUDO.is_file():
        pytest.skip(f"{PSEUDO} is absent")
    rows = _read(PSEUDO)
    assert len(rows) == 19744
    flagged = [i for i, r in enumerate(rows) if is_refusal(r["generated_neutral_sentence"], r["en_toxic_comment"])]
    labels = {int(r["row"]): r["label"] for r in _read(LABELS)}
    assert len(flagged) == 27
    assert all(labels.get(i) == "refusal" for i in flagged)
    human = [r["en_neutral_comment"] for r in rows if is_refusal(r["en_neutral_comment"], r["en_toxic_comment"])]
    assert human == ["I'm so sorry."]
