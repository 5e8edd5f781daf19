"""The tiny zoo: the offline models of the `tiny` profile, built by `factory zoo`.

`build(out)` trains, on CPU and deterministically (seeded, fixed step counts, fixed data
order), four tiny models from text every machine has (standard library docstrings) and
the project's seed corpus (minus its held-out pairs, see `ZOO_HOLDOUT_FRACTION`):

- `causal-lm/`: a GPT-2 that writes word-like text after a bare `<|endoftext|>` prompt and
  answers rewrite prompts (`factory.prompts.rewrite_messages`) with one sentence ended by
  `<|endoftext|>`. Its chat template renders messages exactly like
  `factory.prompts.messages_to_text`. It loads with transformers and with vLLM.
- `seq2seq/`: a BART pre-trained as a denoiser and copier, to be fine-tuned on pairs.
- `fluency/`: a RoBERTa classifier, 0 = unacceptable, 1 = acceptable (real vs corrupted sentences).
- `toxicity/`: the same classifier, 0 = neutral, 1 = toxic, trained on the seed corpus.

All four share one byte-level BPE vocabulary. `manifest.json` records, per model, its
architecture, size, steps, final loss, held-out accuracy (classifiers) and weights hash.
Their outputs show that the pipeline runs; they say nothing about real models.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from factory.models import zoo_text, zoo_train
from factory.models.zoo_text import ZOO_HOLDOUT_FRACTION, SeedCorpus
from factory.core.outputs import same_folder
from factory.prompts import DEFAULT_SYSTEM
from factory.core.records import atomic_dir, write_json

__all__ = ["ZOO_FORMAT_VERSION", "ZOO_HOLDOUT_FRACTION", "ZOO_MODELS", "build"]

ZOO_FORMAT_VERSION = 1
ZOO_MODELS = ("causal-lm", "seq2seq", "fluency", "toxicity")
"""Folder names inside the zoo; `zoo:NAME` in a recipe points at one of them."""

VOCAB_SIZE = 4096
LM_STEPS, SEQ2SEQ_STEPS, FLUENCY_STEPS, TOXICITY_STEPS = 350, 1500, 400, 100
LM_CHUNK_TOKENS = 96
SEQ2SEQ_MAX_TOKENS = 64
CLASSIFIER_MAX_TOKENS = 48
BATCH_SIZE = 16
LM_LR, SEQ2SEQ_LR, CLASSIFIER_LR = 3e-3, 1e-3, 1e-3
SEQ2SEQ_STDLIB_SENTENCES = 2000
"""Docstring sentences in the BART's pre-training (with every seed sentence). At 400 steps
it collapsed to one output for every input; with this share, 1,500 steps and no dropout it
copies its input (word Jaccard 0.98 on seed sentences), so fine-tuning learns edits."""


ZOO_FOLDER = Path("data/models/zoo")
"""The pipeline's own zoo folder (relative to the project); any other `out` is a folder the user named."""


def build(out: Path, *, seed: int = 0, scale: float = 1.0, seed_dir: Path = zoo_text.SEED_DIR,
          overwrite: bool = False) -> Path:
    """Build every tiny zoo model into `out` (atomically: build in a sibling temp dir, then rename over).

    `seed` seeds every random choice and initialisation; `scale` multiplies every
    training step count (0.02 builds a throw-away zoo in seconds). An `out` other than
    `ZOO_FOLDER` that exists and was not made by `factory zoo` is refused unless
    `overwrite` (see `factory.core.outputs`). Returns `out`.
    """
    out = Path(out)
    user_folder = not same_folder(out, ZOO_FOLDER)
    with atomic_dir(out, maker="factory zoo", user_folder=user_folder, overwrite=overwrite) as tmp:
        corpus = zoo_text.load_seed(seed_dir)
        sentences = list(zoo_text.stdlib_sentences())
        bpe = zoo_train.train_bpe(
            sentences + zoo_text.seed_sentences(corpus) + list(DEFAULT_SYSTEM.values()), VOCAB_SIZE
        )
        entries = {
            "causal-lm": build_causal_lm(tmp / "causal-lm", bpe, sentences, corpus, seed, scale),
            "seq2seq": build_seq2seq(tmp / "seq2seq", bpe, sentences, corpus, seed, scale),
            "fluency": build_fluency(tmp / "fluency", bpe, sentences, corpus, seed, scale),
            "toxicity": build_toxicity(tmp / "toxicity", bpe, corpus, seed, scale),
        }
        manifest = {
            "format_version": ZOO_FORMAT_VERSION,
            "seed": seed,
            "scale": scale,
            "holdout_fraction": ZOO_HOLDOUT_FRACTION,
            "training_text": {"stdlib_sentences": len(sentences), "seed_pairs": len(corpus.train_pairs)},
            "models": entries,
        }
        write_json(tmp / "manifest.json", manifest)
    return out


def steps_for(base: int, scale: float) -> int:
    """A training step count scaled by `scale`, at least one step."""
    return max(1, round(base * scale))


def build_causal_lm(
    folder: Path, bpe: Tokenizer, sentences: list[str], corpus: SeedCorpus, seed: int, scale: float
) -> dict[str, Any]:
    """Train and save the GPT-2: half of every batch plain text chunks, half rewrite dialogues."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = zoo_train.causal_tokenizer(bpe)
    eos = tokenizer.eos_token
    chunks = tokenizer([eos + text for text in text_chunks(sentences + zoo_text.seed_sentences(corpus), rng)],
                       truncation=True, max_length=LM_CHUNK_TOKENS)["input_ids"]
    dialogues = [d for _ in range(3) for d in zoo_text.chat_examples(corpus.train_pairs, eos, rng)]
    prompts = tokenizer([prompt for prompt, _ in dialogues])["input_ids"]
    answers = tokenizer([answer for _, answer in dialogues])["input_ids"]
    chats = [dialogue_row(prompt, answer, tokenizer) for prompt, answer in zip(prompts, answers)]
    texts = [(ids, ids) for ids in chunks]
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=512, n_embd=128, n_layer=2, n_head=4,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    steps = steps_for(LM_STEPS, scale)
    half = BATCH_SIZE // 2
    chunk_order = zoo_train.batch_indices([len(c) for c in chunks], half, steps, rng)
    chat_order = zoo_train.batch_indices([len(ids) for ids, _ in chats], half, steps, rng)

    def make_batch(step: int) -> zoo_train.Batch:
        rows = [texts[i] for i in chunk_order[step]] + [chats[i] for i in chat_order[step]]
        return zoo_train.lm_batch(rows, tokenizer.pad_token_id)

    result = zoo_train.train(model, make_batch, steps, lr=LM_LR)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, max_new_tokens=64,
    )
    return save(folder, model, tokenizer, result, seed, training_sequences=len(chunks) + len(chats))


def dialogue_row(prompt: list[int], answer: list[int],
                 tokenizer: PreTrainedTokenizerFast) -> tuple[list[int], list[int]]:
    """Token ids and labels of a rewrite dialogue: every token is learned except the prompt's
    line breaks, so the only turn ending the model learns after an answer is eos."""
    newline = tokenizer.convert_tokens_to_ids("\u010a")
    labels = [-100 if token == newline else token for token in prompt] + answer
    return prompt + answer, labels


def text_chunks(sentences: list[str], rng: random.Random, words: int = 60) -> list[str]:
    """Shuffled sentences joined into passages of about `words` words (a seeded order)."""
    order = list(sentences)
    rng.shuffle(order)
    passages, current = [], []
    for sentence in order:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= words:
            passages.append(" ".join(current))
            current = []
    return passages + ([" ".join(current)] if current else [])


def build_seq2seq(
    folder: Path, bpe: Tokenizer, sentences: list[str], corpus: SeedCorpus, seed: int, scale: float
) -> dict[str, Any]:
    """Train and save the BART: rebuild each sentence from a masked copy, or copy it as is."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = zoo_train.bart_tokenizer(bpe, SEQ2SEQ_MAX_TOKENS)
    targets = sentences[:SEQ2SEQ_STDLIB_SENTENCES] + zoo_text.seed_sentences(corpus)
    sources = [mask_words(text, tokenizer.mask_token, rng) if i % 3 else text for i, text in enumerate(targets)]
    encode = lambda texts: tokenizer(texts, truncation=True, max_length=SEQ2SEQ_MAX_TOKENS)["input_ids"]  # noqa: E731
    pairs = list(zip(encode(sources), encode(targets)))
    config = BartConfig(
        vocab_size=len(tokenizer), d_model=128, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=256, decoder_ffn_dim=256,
        max_position_embeddings=SEQ2SEQ_MAX_TOKENS * 4, pad_token_id=tokenizer.pad_token_id, dropout=0.0,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = BartForConditionalGeneration(config)
    steps = steps_for(SEQ2SEQ_STEPS, scale)
    order = zoo_train.batch_indices([len(a) + len(b) for a, b in pairs], BATCH_SIZE, steps, rng)
    result = zoo_train.train(
        model, lambda step: zoo_train.seq2seq_batch([pairs[i] for i in order[step]], tokenizer.pad_token_id),
        steps, lr=SEQ2SEQ_LR,
    )
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id, max_new_tokens=SEQ2SEQ_MAX_TOKENS,
    )
    return save(folder, model, tokenizer, result, seed, training_sequences=len(pairs))


def mask_words(text: str, mask: str, rng: random.Random, share: float = 0.2) -> str:
    """Replace about `share` of the words of `text` with `mask` (BART-style text infilling)."""
    words = text.split()
    return " ".join(mask if rng.random() < share else w for w in words)


def build_fluency(
    folder: Path, bpe: Tokenizer, sentences: list[str], corpus: SeedCorpus, seed: int, scale: float
) -> dict[str, Any]:
    """Train and save the acceptability classifier: real sentences vs corrupted copies.

    Every tenth sentence (and its corruption) is held out to measure accuracy.
    """
    rng = random.Random(seed)
    real = sentences + corpus.neutral + [neutral for _, neutral in corpus.train_pairs]
    labelled = [(text, 1) for text in real] + [(zoo_text.corrupt(text, rng), 0) for text in real]
    heldout = [ex for i, ex in enumerate(labelled) if i % len(real) % 10 == 9]
    train = [ex for i, ex in enumerate(labelled) if i % len(real) % 10 != 9]
    labels = {0: "unacceptable", 1: "acceptable"}
    return build_classifier(folder, bpe, train, heldout, labels, seed, steps_for(FLUENCY_STEPS, scale))


def build_toxicity(folder: Path, bpe: Tokenizer, corpus: SeedCorpus, seed: int, scale: float) -> dict[str, Any]:
    """Train and save the toxicity classifier on the seed corpus; score it on the held-out pairs."""
    train = [(toxic, 1) for toxic, _ in corpus.train_pairs] + [(t, 1) for t in corpus.toxic]
    train += [(neutral, 0) for _, neutral in corpus.train_pairs] + [(n, 0) for n in corpus.neutral]
    heldout = [(toxic, 1) for toxic, _ in corpus.heldout_pairs] + [(n, 0) for _, n in corpus.heldout_pairs]
    labels = {0: "neutral", 1: "toxic"}
    return build_classifier(folder, bpe, train, heldout, labels, seed, steps_for(TOXICITY_STEPS, scale))


def build_classifier(
    folder: Path, bpe: Tokenizer, train: list[tuple[str, int]], heldout: list[tuple[str, int]],
    labels: dict[int, str], seed: int, steps: int,
) -> dict[str, Any]:
    """Train a tiny RoBERTa sequence classifier on (text, label) examples and save it."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = zoo_train.bart_tokenizer(bpe, CLASSIFIER_MAX_TOKENS)

    def encode(examples: list[tuple[str, int]]) -> list[tuple[list[int], int]]:
        ids = tokenizer([text for text, _ in examples], truncation=True)["input_ids"]
        return list(zip(ids, [label for _, label in examples]))

    train_ids, heldout_ids = encode(train), encode(heldout)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=256, max_position_embeddings=CLASSIFIER_MAX_TOKENS + tokenizer.pad_token_id + 1,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, num_labels=2, id2label=labels,
        label2id={name: i for i, name in labels.items()}, type_vocab_size=1,
    )
    model = RobertaForSequenceClassification(config)
    order = zoo_train.batch_indices([len(ids) for ids, _ in train_ids], BATCH_SIZE * 2, steps, rng)
    result = zoo_train.train(
        model, lambda step: zoo_train.classifier_batch([train_ids[i] for i in order[step]], tokenizer.pad_token_id),
        steps, lr=CLASSIFIER_LR,
    )
    entry = save(folder, model, tokenizer, result, seed, training_sequences=len(train_ids))
    entry["heldout_examples"] = len(heldout_ids)
    entry["heldout_accuracy"] = zoo_train.accuracy(model, heldout_ids, tokenizer.pad_token_id)
    return entry


def save(
    folder: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast,
    result: zoo_train.TrainResult, seed: int, training_sequences: int,
) -> dict[str, Any]:
    """Save a model and its tokenizer with `save_pretrained`; return its manifest entry."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    weights = folder / "model.safetensors"
    return {
        "folder": folder.name,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "training_steps": result.steps,
        "training_sequences": training_sequences,
        "final_loss": result.final_loss,
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "seed": seed,
    }
