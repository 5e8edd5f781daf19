"""The tiny zoo: layout, manifest, loading with the Auto classes, chat template, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from factory.models import zoo, zoo_text  # noqa: E402
from factory.prompts import example_pair, messages_to_text, rewrite_messages  # noqa: E402

SCALE = 0.02


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return zoo.build(tmp_path_factory.mktemp("zoo") / "zoo", seed=0, scale=SCALE)


@pytest.fixture(scope="module")
def manifest(built) -> dict:
    return json.loads((built / "manifest.json").read_text())


def test_layout_and_manifest_are_complete(built, manifest):
    assert manifest["format_version"] == zoo.ZOO_FORMAT_VERSION
    assert manifest["seed"] == 0 and manifest["holdout_fraction"] == zoo.ZOO_HOLDOUT_FRACTION == 0.2
    assert set(manifest["models"]) == set(zoo.ZOO_MODELS)
    for name, entry in manifest["models"].items():
        folder = built / entry["folder"]
        assert entry["folder"] == name
        for file in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            assert (folder / file).is_file(), f"{name}/{file}"
        assert entry["weights_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        assert entry["parameters"] > 100_000 and entry["training_steps"] >= 1 and entry["seed"] == 0
        assert entry["final_loss"] == entry["final_loss"]  # not NaN
    assert manifest["models"]["causal-lm"]["architecture"] == "GPT2LMHeadModel"
    assert manifest["models"]["seq2seq"]["architecture"] == "BartForConditionalGeneration"
    assert 0.0 <= manifest["models"]["toxicity"]["heldout_accuracy"] <= 1.0
    assert (built / "causal-lm" / "generation_config.json").is_file()
    assert not list(built.parent.glob(".zoo.tmp-*")), "the temporary build folder was left behind"


def test_chat_template_renders_like_messages_to_text(built):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built / "causal-lm")
    shots = [example_pair("toxify", "you absolute clown", "you are mistaken")]
    for messages in (rewrite_messages("toxify", "Nice weather today.", shots),
                     rewrite_messages("detoxify", "shut up", (), system="Be kind.")):
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert rendered == messages_to_text(messages)
        plain = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        assert plain + "\nassistant:" == messages_to_text(messages)


def test_causal_lm_generates_from_a_chat_prompt(built):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built / "causal-lm")
    model = AutoModelForCausalLM.from_pretrained(built / "causal-lm")
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id == tokenizer.bos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    inputs = tokenizer.apply_chat_template(
        rewrite_messages("detoxify", "this game is garbage"), add_generation_prompt=True,
        return_tensors="pt", return_dict=True,
    )
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=True, top_p=0.9)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert 1 <= len(new) <= 8
    assert isinstance(tokenizer.decode(new, skip_special_tokens=True), str)


def test_seq2seq_loads_and_generates(built):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built / "seq2seq")
    model = AutoModelForSeq2SeqLM.from_pretrained(built / "seq2seq")
    inputs = tokenizer(["you are a total clown"], return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    out = model.generate(**inputs, max_new_tokens=6)
    assert out.shape[0] == 1 and out.shape[1] >= 2


@pytest.mark.parametrize("name,labels", [
    ("fluency", {0: "unacceptable", 1: "acceptable"}),
    ("toxicity", {0: "neutral", 1: "toxic"}),
])
def test_classifiers_give_two_label_probabilities(built, manifest, name, labels):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(built / name)
    model = AutoModelForSequenceClassification.from_pretrained(built / name)
    assert model.config.id2label == labels
    batch = tokenizer(["A short sentence.", "shut up you clown, this is garbage"], padding=True, return_tensors="pt")
    with torch.no_grad():
        probs = model(**batch).logits.softmax(-1)
    assert probs.shape == (2, 2)
    assert torch.allclose(probs.sum(-1), torch.ones(2))
    assert 0.0 <= manifest["models"][name]["heldout_accuracy"] <= 1.0
    assert manifest["models"][name]["heldout_examples"] > 0


def test_two_builds_with_the_same_seed_are_identical(built, manifest, tmp_path):
    again = json.loads((zoo.build(tmp_path / "zoo", seed=0, scale=SCALE) / "manifest.json").read_text())
    for name in zoo.ZOO_MODELS:
        assert again["models"][name]["weights_sha256"] == manifest["models"][name]["weights_sha256"], name
    assert (tmp_path / "zoo" / "causal-lm" / "tokenizer.json").read_bytes() == (
        built / "causal-lm" / "tokenizer.json").read_bytes()


def test_held_out_pairs_are_the_last_fifth_and_never_trained_on():
    corpus = zoo_text.load_seed()
    pairs = zoo_text.read_pairs(zoo_text.SEED_DIR / "pairs.tsv")
    assert corpus.train_pairs + corpus.heldout_pairs == pairs
    assert len(corpus.heldout_pairs) == round(len(pairs) * zoo.ZOO_HOLDOUT_FRACTION)
    trained = set(zoo_text.seed_sentences(corpus))
    for toxic, neutral in corpus.heldout_pairs:
        assert toxic not in trained or toxic in corpus.toxic
        assert neutral not in trained or neutral in corpus.neutral


def test_stdlib_sentences_are_plain_prose():
    sentences = zoo_text.stdlib_sentences()
    assert 2_000 <= len(sentences) <= zoo_text.MAX_STDLIB_SENTENCES
    assert len(set(sentences)) == len(sentences)
    for sentence in random.Random(0).sample(sentences, 200):
        assert 4 <= len(sentence.split()) <= 40 and ">>>" not in sentence and "_" not in sentence


def test_corrupt_changes_every_sentence():
    rng = random.Random(0)
    for sentence in zoo_text.stdlib_sentences()[:300]:
        assert zoo_text.corrupt(sentence, rng) != sentence


def test_chat_examples_end_the_answer_with_eos():
    pairs = [("you are a clown", "you are wrong"), ("this sucks", "this is bad"), ("shut up", "please stop")]
    dialogues = zoo_text.chat_examples(pairs, "<eos>", random.Random(0))
    assert len(dialogues) == 6
    for prompt, answer in dialogues:
        assert prompt.startswith("system: ") and prompt.endswith("\nassistant:")
        assert answer.startswith(" ") and answer.endswith("<eos>") and answer.count("<eos>") == 1


def test_a_bad_pairs_file_is_named_in_the_error(tmp_path):
    from factory.core.errors import FactoryError

    (tmp_path / "pairs.tsv").write_text("toxic\tneutral\nonly one column\n")
    with pytest.raises(FactoryError, match=r"pairs.tsv: line 2"):
        zoo_text.read_pairs(tmp_path / "pairs.tsv")


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_loads_the_causal_lm_and_chats(built):
    pytest.importorskip("vllm")
    import subprocess
    import sys

    script = Path(__file__).with_name("zoo_vllm_check.py")
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = subprocess.run([sys.executable, str(script), str(built / "causal-lm")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    marked = [line for line in done.stdout.splitlines() if line.startswith("ZOO_VLLM_CHECK ")]
    assert marked, done.stdout[-3000:]
    result = json.loads(marked[-1].removeprefix("ZOO_VLLM_CHECK "))
    assert result["chat_prompt"] == messages_to_text(rewrite_messages("detoxify", "this game is garbage"))
    assert result["chat_tokens"] >= 1 and result["generate_tokens"] >= 1
    assert result["chat_finish"] in ("stop", "length")


@pytest.mark.slow
def test_full_scale_seq2seq_copies_its_input_so_fine_tuning_can_learn_edits(tmp_path):
    """At its full step count the zoo BART reproduces held-out sentences instead of one
    fixed output (it collapsed to a single sentence for every input before 1,500 steps)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from factory.models import zoo_train
    from factory.prompts import DEFAULT_SYSTEM

    corpus = zoo_text.load_seed()
    sentences = list(zoo_text.stdlib_sentences())
    bpe = zoo_train.train_bpe(sentences + zoo_text.seed_sentences(corpus) + list(DEFAULT_SYSTEM.values()),
                              zoo.VOCAB_SIZE)
    folder = tmp_path / "seq2seq"
    zoo.build_seq2seq(folder, bpe, sentences, corpus, 0, 1.0)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForSeq2SeqLM.from_pretrained(folder)
    inputs = [neutral for _, neutral in corpus.heldout_pairs[:16]]
    with torch.no_grad():
        out = model.generate(**tokenizer(inputs, return_tensors="pt", padding=True), do_sample=False, max_new_tokens=48)
    outputs = tokenizer.batch_decode(out, skip_special_tokens=True)
    overlap = [len(set(a.lower().split()) & set(b.lower().split()))
               / len(set(a.lower().split()) | set(b.lower().split()))
               for a, b in zip(inputs, outputs)]
    assert len(set(outputs)) == len(inputs)
    assert sum(overlap) / len(overlap) >= 0.8, list(zip(inputs, outputs))[:3]
