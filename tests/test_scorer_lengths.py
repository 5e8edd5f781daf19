"""Classifier scorers truncate to what the model holds, not to a fixed 256 tokens.

The zoo classifiers are RoBERTa models with 50 position embeddings and padding_idx 1: positions
start at 2, so 48 tokens fit. A fixed cut at 256 crashed them on long texts (`index 50 is out
of bounds`).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from factory.models.loading import Similarity, _hf_classifier, load_fluency, load_toxicity, max_input_tokens

LONG = "you are such a stupid idiot and nobody likes your garbage comments at all " * 40


@pytest.mark.parametrize("load", [load_toxicity, load_fluency], ids=["toxicity", "fluency"])
def test_zoo_classifiers_score_texts_longer_than_their_positions(data_root, load):
    name = "toxicity" if load is load_toxicity else "fluency"
    model, tokenizer = _hf_classifier(str(data_root / "models" / "zoo" / name), None, "auto")
    assert len(tokenizer(LONG)["input_ids"]) > model.config.max_position_embeddings
    assert max_input_tokens(model, tokenizer) == model.config.max_position_embeddings - model.config.pad_token_id - 1
    scores = load(f"zoo:{name}", data_root)([LONG, "hello there", ""])
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


@pytest.fixture
def no_tokenizer_limit(data_root, tmp_path):
    """The zoo toxicity classifier with the tokenizer's model_max_length removed (as some Hub models ship)."""
    folder = tmp_path / "toxicity"
    shutil.copytree(data_root / "models" / "zoo" / "toxicity", folder)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("model_max_length")
    config_file.write_text(json.dumps(config))
    return folder


def test_without_a_tokenizer_limit_the_position_table_decides(data_root, no_tokenizer_limit):
    folder = no_tokenizer_limit
    model, tokenizer = _hf_classifier(str(folder), None, "auto")
    assert tokenizer.model_max_length > 10**6, "transformers' placeholder for an unknown limit"
    assert max_input_tokens(model, tokenizer) == 48
    scores = load_toxicity(str(folder), data_root)([LONG])
    assert scores.shape == (1,) and 0 <= scores[0] <= 1


def test_a_sentence_encoder_without_a_tokenizer_limit_embeds_long_texts(no_tokenizer_limit):
    similarity = Similarity(str(no_tokenizer_limit))
    assert similarity.model.max_seq_length == 48, "sentence-transformers alone takes 50 (the table, offset ignored)"
    assert similarity.embed([LONG, "hello"]).shape[0] == 2
