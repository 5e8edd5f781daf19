"""The reference ways of batching free text for causal fine-tuning (`lm_train`, `distill.toxic_model`).

The project's default (`factory.train.causal.make_collate`) pads each batch on the right and
masks the padding out of the loss. Two released codes do otherwise, and a recipe can ask for
either:

- `padding: in_loss` (UniDetox, `unidetox/toxic_gpt2_finetune_and_distill.py`
  create_encoded_datasets, and the fine-tuning in `unidetox/unidetox.py`): every text of the
  training set is padded to the longest one (at most `max_length` tokens) with the pad token
  (EOS when the tokenizer has none), and the labels are the input ids, pads included. The
  model is thus trained to emit the pad token, i.e. EOS for GPT-2, after every text.
- `packing: true` (SGEAT, Megatron-LM `examples/detxoify_lm`: `preprocess.sh --append-eod`,
  Megatron's GPT dataset, `finetune_gpt.py` with no EOD loss mask): each text followed by EOS,
  all joined into one token stream and cut into blocks of `max_length` tokens. A block starts
  at the last token of the previous one, so every next-token pair of the stream is trained
  exactly once (Megatron's samples of seq_length + 1 tokens); the loss covers every token, EOS
  included, and attention crosses text boundaries, as in the reference. The last block may be
  shorter; it is padded and its padding masked, never dropped.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from factory.core.errors import FactoryError

Batch = dict[str, Any]


def padded_in_loss_collate(tokenizer: Any, texts: Sequence[str], max_length: int,
                           device: str = "cpu") -> Callable[[Sequence[int]], Batch]:
    """Collate function of `padding: in_loss`: the whole set padded to its longest text, labels = ids (no -100)."""
    tokenizer.padding_side = "right"
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, padding=True, return_tensors="pt",
                    add_special_tokens=True)

    def collate(indices: Sequence[int]) -> Batch:
        ids = enc["input_ids"][list(indices)]
        batch = {"input_ids": ids, "attention_mask": enc["attention_mask"][list(indices)], "labels": ids.clone()}
        return {key: value.to(device) for key, value in batch.items()}

    return collate


def token_stream(tokenizer: Any, texts: Sequence[str], chunk: int = 1000) -> np.ndarray:
    """The ids of every text, each followed by EOS, in order (no BOS, no other special token), as one array."""
    if tokenizer.eos_token_id is None:
        raise FactoryError("lm_train.packing: the tokenizer has no EOS token to end each text with")
    parts = []
    for start in range(0, len(texts), chunk):
        for ids in tokenizer(list(texts[start : start + chunk]), add_special_tokens=False)["input_ids"]:
            parts.append(np.asarray([*ids, tokenizer.eos_token_id], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def packed_spans(tokens: int, max_length: int) -> list[tuple[int, int]]:
    """(start, stop) of the blocks of a stream of `tokens` tokens: `max_length` long, each starting at the last
    token of the one before (the last may be shorter)."""
    if tokens < 2:
        return []
    return [(start, min(start + max_length, tokens)) for start in range(0, tokens - 1, max_length - 1)]


def packed_collate(stream: np.ndarray, spans: Sequence[tuple[int, int]], pad_id: int,
                   device: str = "cpu") -> Callable[[Sequence[int]], Batch]:
    """Collate function of `packing: true`: whole blocks, loss on every token; a short last block padded and masked."""
    import torch

    def collate(indices: Sequence[int]) -> Batch:
        chosen = [stream[spans[i][0] : spans[i][1]] for i in indices]
        width = max(len(block) for block in chosen)
        ids = torch.full((len(chosen), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for row, block in enumerate(chosen):
            ids[row, : len(block)] = torch.from_numpy(block)
            mask[row, : len(block)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        return {key: value.to(device) for key, value in batch.items()}

    return collate
