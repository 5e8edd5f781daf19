"""Classifier scorers: sigmoid heads (Detoxify 'original' style) and classifiers without label names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from factory.core.errors import FactoryError
from factory.models.loading import load_fluency, load_toxicity
from factory.recipe.base import ModelSpec

TEXTS = ["you are a rude idiot", "have a nice day", "what a stupid plan"]


def build_classifier(folder: Path, labels: dict[int, str]) -> Path:
    """A tiny random BERT sequence classifier with a word-level tokenizer, saved to `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = sorted({w for t in TEXTS for w in t.split()})
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
                                        cls_token="[CLS]", sep_token="[SEP]", model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=len(labels),
                        id2label=labels, label2id={v: k for k, v in labels.items()})
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _logits(folder: Path) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits.double().numpy()


def _spec(role: str, **fields) -> ModelSpec:
    spec = ModelSpec.model_validate(fields)
    spec._role = role
    return spec


def test_sigmoid_activation_reads_one_head_of_a_multi_label_classifier(tmp_path):
    labels = {0: "toxic", 1: "severe_toxic", 2: "obscene", 3: "threat", 4: "insult", 5: "identity_hate"}
    folder = build_classifier(tmp_path / "toxic-bert", labels)
    logits = _logits(folder)
    spec = _spec("models.toxicity", ref=str(folder), label="toxic", activation="sigmoid")
    scores = load_toxicity(spec, tmp_path)(TEXTS)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-5)
    softmax = np.exp(logits[:, 0]) / np.exp(logits).sum(axis=1)
    assert not np.allclose(scores, softmax, rtol=1e-3)  # the default reading would be another number
    default = load_toxicity(_spec("models.toxicity", ref=str(folder), label="toxic"), tmp_path)(TEXTS)
    np.testing.assert_allclose(default, softmax, rtol=1e-5)


def test_generic_labels_need_an_explicit_label(tmp_path):
    folder = build_classifier(tmp_path / "cola", {0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(FactoryError, match=r"^models.fluency: .*cola: its labels \{0: 'LABEL_0', 1: 'LABEL_1'\} do not "
                                           r"say which one is acceptable; set `label:`"):
        load_fluency(_spec("models.fluency", ref=str(folder)), tmp_path)
    with pytest.raises(FactoryError, match=r"^models.toxicity: .* do not say which one is toxic or offensive"):
        load_toxicity(_spec("models.toxicity", ref=str(folder)), tmp_path)
    logits = _logits(folder)
    acceptable = load_fluency(_spec("models.fluency", ref=str(folder), label=0), tmp_path)(TEXTS)
    np.testing.assert_allclose(acceptable, np.exp(logits[:, 0]) / np.exp(logits).sum(axis=1), rtol=1e-5)
    named = build_classifier(tmp_path / "named", {0: "neutral", 1: "toxic"})  # label names still suffice
    logits = _logits(named)
    scores = load_toxicity(_spec("models.toxicity", ref=str(named)), tmp_path)(TEXTS)
    np.testing.assert_allclose(scores, np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1), rtol=1e-5)

