"""Few-shot examples as PseudoParaDetox chose them (fixed last k, from a named source) and the system prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory.core.errors import RecipeError
from factory.generate import rewrite
from factory.recipe import Recipe, load_recipe
from factory.core.records import Record
from conftest import copy_recipe

REPO = Path(__file__).resolve().parent.parent
POOL = [Record.make("pair", lang="en", toxic=f"shut up, fool number {i}", neutral=f"please stop, friend number {i}",
                    split="train") for i in range(6)]
INPUTS = ["the weather is nice today", "the meeting moved to thursday", "you are wrong about this"]


def _recipe(tmp_path: Path, prompt: str) -> Recipe:
    path = copy_recipe("detoxify", tmp_path)
    path.write_text(path.read_text().replace("  prompt:\n    few_shot: 2\n", f"  prompt:\n    few_shot: 2\n{prompt}"))
    return load_recipe(path)


def _examples(recipe: Recipe, pool=POOL) -> list[list[tuple[str, str]]]:
    requests = rewrite.build_requests(recipe, "detoxify", INPUTS, pool)
    return [[(m["content"], n["content"]) for m, n in zip(r.messages[1:-1:2], r.messages[2:-1:2])] for r in requests]


def test_last_choice_gives_every_input_the_pools_last_pairs_in_order(tmp_path):
    fixed = _examples(_recipe(tmp_path, "    few_shot_choice: last\n"))
    last_two = [(r.toxic, r.neutral) for r in POOL[-2:]]
    assert fixed == [last_two] * 3
    sampled = _examples(_recipe(tmp_path, ""))
    assert len({tuple(e) for e in sampled}) > 1  # the default still samples per input
    own = POOL[-1].toxic  # an input that is one of the last pairs never sees its own pair
    requests = rewrite.build_requests(_recipe(tmp_path, "    few_shot_choice: last\n"), "detoxify", [own], POOL)
    assert [m["content"] for m in requests[0].messages[1:-1:2]] == [POOL[-3].toxic, POOL[-2].toxic]


def test_few_shot_source_is_read_in_stored_order_with_skipped_rows_counted(tmp_path):
    source = tmp_path / "shots.tsv"
    source.write_text("toxic_sentence\tneutral_sentence\nyou fool\tyou person\nstupid idea\t\n"
                      "dumb plan\tweak plan\nshut it\tplease stop\n")
    recipe = _recipe(tmp_path, f"    few_shot_choice: last\n    few_shot_source:\n      source: {source}\n"
                               "      toxic_column: toxic_sentence\n      neutral_column: neutral_sentence\n")
    pool, stats = rewrite.few_shot_pool(recipe, POOL)
    assert [(r.toxic, r.neutral) for r in pool] == [("you fool", "you person"), ("dumb plan", "weak plan"),
                                                    ("shut it", "please stop")]
    assert stats == {"source": str(source), "hub_split": "train", "pairs": 3, "skipped": {"empty": 1}}
    assert _examples(recipe, pool)[0] == [("dumb plan", "weak plan"), ("shut it", "please stop")]


def test_system_prompt_holds_any_text_and_refuses_a_blank_one(tmp_path):
    text = 'Line one: "quoted" {braces} {{double}} 100% — ünïcode.\nLine two\\n stays as written.'
    block = "    system: |-\n" + "".join(f"      {line}\n" for line in text.split("\n"))
    recipe = _recipe(tmp_path, block)
    assert recipe.generate.prompt.system == text
    assert rewrite.build_requests(recipe, "detoxify", INPUTS[:1], POOL)[0].messages[0]["content"] == text
    with pytest.raises(RecipeError, match=r"generate.prompt.system: .*empty system prompt; leave the field out"):
        _recipe(tmp_path, '    system: "  "\n')
