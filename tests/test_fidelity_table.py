"""The fidelity table (factory/data/fidelity.yaml): the README copy is current, every row's field exists in
the full recipes, and a recipe's deviations and J reference are what its card says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    section = fidelity.fidelity_section(changed, pairs=False)
    assert "| training data layout |" in section and "J follows" not in section  # LM kinds have no J


def test_distill_full_recipe_deviates_only_where_the_table_says_why():
    rows = fidelity.deviations(load_recipe(FULL / "distill-gpt2xl.yaml"))
    assert {row[0] for row in rows} == {"toxic model seed", "KV caches in decoding", "perplexity tokenization", "MMLU"}


@pytest.mark.parametrize("name, follows, comparable", [
    ("detoxify-llama3-8b.yaml", "PseudoParaDetox's J", True),  # evaluate.similarity: BLEURT, as the reference
    ("translate-qwen25.yaml", "multilingual J", True),
])
def test_card_names_the_j_reference_and_the_sim_model(name, follows, comparable):
    recipe = load_recipe(FULL / name)
    sentence = fidelity.j_reference(recipe)
    sim = recipe.evaluate.similarity or recipe.models.similarity
    assert follows in sentence and f"SIM here: `{sim.ref}`" in sentence
    assert ("not comparable" not in sentence) == comparable


def _bleurt_like(folder: Path, labels: int = 1) -> Path:
    """A tiny BERT pair classifier with BLEURT's layout (one regression output)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from factory.hubsim import minidata, minitok

    folder.mkdir(parents=True)
    ids = minitok.bert(folder, minidata.tokenizer_corpus()[:200])
    config = BertConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                        max_position_embeddings=64, num_labels=labels, **ids,
                        architectures=["BertForSequenceClassification"])
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_j_similarity_from_a_pair_classifier_is_the_sigmoid_of_its_score_input_first(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from factory.models.pair_similarity import PairSimilarity, load_j_similarity
    from factory.recipe.base import ModelSpec

    folder = _bleurt_like(tmp_path / "bleurt")
    scorer = load_j_similarity(ModelSpec(ref=str(folder)), tmp_path)
    assert isinstance(scorer, PairSimilarity) and scorer.max_length == 64
    inputs, outputs = ["you are a stupid idiot", "shut up"], ["you are wrong", "please be quiet"]
    got = scorer.pairwise(inputs, outputs)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for i, (source, output) in enumerate(zip(inputs, outputs)):
        with torch.inference_mode():
            logit = model(**tokenizer(source, output, return_tensors="pt")).logits[0, 0].item()  # input first
        assert got[i] == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6)


def test_a_j_similarity_classifier_with_two_outputs_is_refused(tmp_path):
    from factory.core.errors import FactoryError
    from factory.models.pair_similarity import load_j_similarity
    from factory.recipe.base import ModelSpec

    folder = _bleurt_like(tmp_path / "two", labels=2)
    with pytest.raises(FactoryError, match="has 2 outputs; a pair similarity classifier"):
        load_j_similarity(ModelSpec(ref=str(folder)), tmp_path)
