"""The fidelity table (factory/data/fidelity.yaml): the README copy is current, every row's field exists in
the full recipes, and a recipe's deviations and J reference are what its card says."""

from __future__ import annotations

from pathlib import Path

import pytest

from factory import fidelity
from factory.recipe.loader import load_recipe

REPO = Path(__file__).resolve().parent.parent
FULL = REPO / "recipes" / "full"


def test_readme_fidelity_table_is_current():
    text = (REPO / "README.md").read_text()
    section = text.split(fidelity.START, 1)[1].split(fidelity.END, 1)[0]
    assert section.strip() == fidelity.readme_table().strip(), "run: python -m factory docs"


def test_every_row_names_a_file_and_a_field_of_its_recipes_or_a_status():
    for method in fidelity.methods():
        recipes = fidelity.load_full_recipes(method)
        assert recipes and all(r.kind == method.kind for r in recipes.values())
        for row in method.rows:
            assert row.file and row.reference
            if row.field is None:
                assert row.project and row.status in ("match", "deviation", "not found"), row.setting
            else:
                for recipe in recipes.values():
                    fidelity.field_value(recipe, row.field)  # raises on a field the recipe does not have


def test_a_recipe_lists_the_settings_where_it_leaves_the_reference():
    recipe = load_recipe(FULL / "selfgen-gpt2xl.yaml")
    settings = [row[0] for row in fidelity.deviations(recipe)]
    assert "training data layout" not in settings and "rank cut count" not in settings
    assert "sequence length" in settings and "weight decay" in settings  # UniDetox budget, on purpose
    changed = recipe.model_copy(update={"lm_train": recipe.lm_train.model_copy(update={"packing": False}),
                                        "selfgen": recipe.selfgen.model_copy(update={"keep_fraction_of": "eligible"})})
    rows = {row[0]: row for row in fidelity.deviations(changed)}
    assert rows["training data layout"][2] == "`lm_train.packing: false`"
    assert "filter-selfgeneration.py" in rows["rank cut count"][1]
    section = fidelity.fidelity_section(changed)
    assert "| training data layout |" in section and "J follows" not in section  # LM kinds have no J


def test_distill_full_recipe_deviates_only_where_the_table_says_why():
    rows = fidelity.deviations(load_recipe(FULL / "distill-gpt2xl.yaml"))
    assert {row[0] for row in rows} == {"toxic model seed", "KV caches in decoding", "perplexity tokenization", "MMLU"}


@pytest.mark.parametrize("name, follows, comparable", [
    ("detoxify-llama3-8b.yaml", "PseudoParaDetox's J", False),
    ("translate-qwen25.yaml", "multilingual J", True),
])
def test_card_names_the_j_reference_and_the_sim_model(name, follows, comparable):
    recipe = load_recipe(FULL / name)
    sentence = fidelity.j_reference(recipe)
    assert follows in sentence and f"SIM here: `{recipe.models.similarity.ref}`" in sentence
    assert ("not comparable" not in sentence) == comparable
