"""Tokenizers and plain training loops for the tiny zoo (CPU, seeded, fixed step counts)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>"]
"""Special tokens, in vocabulary order: BART/RoBERTa ids 0-4, then GPT-2's end of text."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if not loop.first %}{{ '\\n' }}{% endif %}"
    "{{ message['role'] + ': ' + message['content'] }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\nassistant:' }}{% endif %}"
)
"""Renders messages exactly like `factory.prompts.messages_to_text` (with add_generation_prompt)."""

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TrainResult:
    """What a training run reports: the steps taken and the mean loss of the last steps."""

    steps: int
    final_loss: float


def train_bpe(texts: Sequence[str], vocab_size: int = 4096) -> Tokenizer:
    """Train a byte-level BPE tokenizer (GPT-2 style, no prefix space) on `texts`."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer


def causal_tokenizer(bpe: Tokenizer) -> PreTrainedTokenizerFast:
    """GPT-2 style: `<|endoftext|>` is bos and eos, nothing added around a text, zoo chat template."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(bpe.to_str()),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def bart_tokenizer(bpe: Tokenizer, max_length: int) -> PreTrainedTokenizerFast:
    """BART/RoBERTa style: every text is wrapped as `<s> text </s>`."""
    inner = Tokenizer.from_str(bpe.to_str())
    inner.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", inner.token_to_id("<s>")), ("</s>", inner.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=inner,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max_length,
    )


def pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into (ids, attention_mask) tensors."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def lm_batch(rows: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> Batch:
    """A causal LM batch of (token ids, labels) rows; a label of -100 (and padding) is not learned."""
    ids, mask = pad([tokens for tokens, _ in rows], pad_id)
    labels, _ = pad([targets for _, targets in rows], -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def seq2seq_batch(pairs: Sequence[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """An encoder-decoder batch; the model shifts `labels` right to make decoder inputs."""
    ids, mask = pad([source for source, _ in pairs], pad_id)
    labels, label_mask = pad([target for _, target in pairs], pad_id)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels.masked_fill(label_mask == 0, -100)}


def classifier_batch(examples: Sequence[tuple[list[int], int]], pad_id: int) -> Batch:
    """A sequence classification batch of (token ids, label) examples."""
    ids, mask = pad([tokens for tokens, _ in examples], pad_id)
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([y for _, y in examples])}


def batch_indices(
    lengths: Sequence[int], batch_size: int, steps: int, rng: random.Random, pool: int = 16
) -> list[list[int]]:
    """`steps` batches of indices into a dataset whose items have `lengths`, epoch by epoch.

    Each epoch is a seeded shuffle cut into pools of `pool` batches; inside a pool items
    are sorted by length before being cut into batches (less padding), and the batches
    of the epoch are shuffled again.
    """
    batches: list[list[int]] = []
    while len(batches) < steps:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        epoch: list[list[int]] = []
        for start in range(0, len(order), batch_size * pool):
            group = sorted(order[start : start + batch_size * pool], key=lambda i: lengths[i])
            epoch.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
        rng.shuffle(epoch)
        batches.extend(epoch)
    return batches[:steps]


def train(model: torch.nn.Module, make_batch: Callable[[int], Batch], steps: int, lr: float) -> TrainResult:
    """Run `steps` AdamW steps (linear warm-up then linear decay); `make_batch(step)` feeds them."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.1, (steps - s) / max(1, steps - warmup)))
    )
    losses: list[float] = []
    for step in range(steps):
        loss = model(**make_batch(step)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    tail = losses[-10:]
    return TrainResult(steps=steps, final_loss=round(sum(tail) / len(tail), 4) if tail else float("nan"))


@torch.no_grad()
def accuracy(model: torch.nn.Module, examples: Sequence[tuple[list[int], int]], pad_id: int) -> float:
    """Share of `examples` whose argmax label is right."""
    model.eval()
    right = 0
    for start in range(0, len(examples), 64):
        batch = classifier_batch(examples[start : start + 64], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        right += int((logits.argmax(-1) == batch["labels"]).sum())
    return round(right / max(1, len(examples)), 4)
