"""DPO for encoder-decoder models (mT5), on transformers' `Trainer` with a PEFT LoRA adapter.

Why not TRL: TRL 1.16's `DPOTrainer` has no encoder-decoder path. Its collator concatenates
prompt and completion into one causal sequence, its loss reads next-token log-probs shifted by
one position through a fused causal LM head, and nothing builds decoder inputs; the older TRL
releases the reference ran (`scripts/10_DPO_mt5.py` of himanshubeniwal/Breaking-mBad, which
passes `TrainingArguments` and `tokenizer=`) still had one.

What this trainer computes is TRL's `sigmoid` DPO loss (its default, and the reference's):
per pair -logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), where pi and ref are the
summed log-probs of the target tokens (the decoder labels, pads masked) of the chosen (c)
and rejected (r) answer, under the policy (the base with the adapter) and the reference (the
same model inside `disable_adapter()`, i.e. the base: one copy in memory). As TRL does by
default, dropout is switched off (the LoRA dropout included), so at the start (LoRA B = 0) policy
and reference agree and the loss is ln 2. The logged metrics carry TRL's names: rewards/chosen = beta * (pi_c - ref_c),
rewards/rejected likewise, rewards/margins their difference, rewards/accuracies the share of
pairs whose chosen reward is the larger, logps/chosen and logps/rejected the policy's pi.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from transformers import Trainer

LABEL_PAD = -100
"""Label of a padded target position (masked out of every log-prob)."""


def encode_preferences(examples: Sequence[dict[str, str]], tokenizer: Any, max_length: int) -> list[dict[str, Any]]:
    """Token ids of each row's `prompt` (encoder input) and of its `chosen` and `rejected` answers
    (decoder targets, tokenised as targets so the tokenizer's end-of-sequence token closes them),
    each cut at `max_length` tokens."""
    def ids(texts: list[str], target: bool) -> list[list[int]]:
        key = {"text_target": texts} if target else {"text": texts}
        return tokenizer(**key, truncation=True, max_length=max_length)["input_ids"]

    prompts = ids([row["prompt"] for row in examples], False)
    chosen = ids([row["chosen"] for row in examples], True)
    rejected = ids([row["rejected"] for row in examples], True)
    return [{"prompt_input_ids": p, "chosen_labels": c, "rejected_labels": r}
            for p, c, r in zip(prompts, chosen, rejected)]


def _pad(rows: list[list[int]], value: int, width: int) -> torch.Tensor:
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


@dataclass
class PreferenceCollator:
    """Pads a batch on the right: prompts with the pad token (and an attention mask), chosen and
    rejected labels with `LABEL_PAD` to one common width (so the two can be stacked)."""

    pad_token_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The padded tensors of `features` (rows of `encode_preferences`)."""
        prompts = [list(f["prompt_input_ids"]) for f in features]
        chosen = [list(f["chosen_labels"]) for f in features]
        rejected = [list(f["rejected_labels"]) for f in features]
        prompt_width = max(map(len, prompts))
        target_width = max(map(len, chosen + rejected))
        return {"prompt_input_ids": _pad(prompts, self.pad_token_id, prompt_width),
                "prompt_attention_mask": _pad([[1] * len(p) for p in prompts], 0, prompt_width),
                "chosen_labels": _pad(chosen, LABEL_PAD, target_width),
                "rejected_labels": _pad(rejected, LABEL_PAD, target_width)}


def target_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the summed log-prob of the label tokens (positions labelled `LABEL_PAD` excluded).
    Decoder logits are aligned with their labels (no shift: the decoder input is the shifted labels)."""
    mask = labels != LABEL_PAD
    logps = torch.log_softmax(logits.float(), dim=-1)
    picked = torch.gather(logps, 2, labels.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(dim=-1)


def sigmoid_dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
                     ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per pair: the loss -logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) and the chosen and
    rejected rewards beta * (pi - ref) (TRL's sigmoid DPO loss, label smoothing 0)."""
    chosen_ratio = policy_chosen - ref_chosen
    rejected_ratio = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio))
    return losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


FLOAT_DROPOUTS = ("dropout", "attention_dropout")
"""Attributes holding a dropout probability as a float (mT5's attention in transformers 5: `self.dropout`)."""


def disable_dropout(model: torch.nn.Module) -> None:
    """Set every dropout probability to 0: `nn.Dropout` modules (TRL's `disable_dropout`, on by default, also
    the LoRA dropout) and the float probabilities attention functions read (which TRL's misses)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        for name in FLOAT_DROPOUTS:
            if isinstance(getattr(module, name, None), float):
                setattr(module, name, 0.0)


class Seq2SeqDPOTrainer(Trainer):
    """`Trainer` whose loss is the sigmoid DPO loss of an encoder-decoder PEFT model against itself
    with the adapter disabled. Train rows: `encode_preferences`; collator: `PreferenceCollator`."""

    def __init__(self, *args: Any, beta: float = 0.1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beta = beta
        self.model_accepts_loss_kwargs = False  # compute_loss returns a batch mean: the Trainer divides by accumulation
        self._metrics: dict[str, list[float]] = defaultdict(list)
        disable_dropout(self.model)

    def pair_logps(self, model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed target log-probs of the chosen and of the rejected answers under `model` (one forward
        pass over the prompts twice: chosen rows, then rejected rows)."""
        labels = torch.cat([batch["chosen_labels"], batch["rejected_labels"]])
        base = self.accelerator.unwrap_model(model)
        base = base.get_base_model() if hasattr(base, "get_base_model") else base
        outputs = model(input_ids=batch["prompt_input_ids"].repeat(2, 1),
                        attention_mask=batch["prompt_attention_mask"].repeat(2, 1),
                        decoder_input_ids=base.prepare_decoder_input_ids_from_labels(labels=labels), use_cache=False)
        return target_logps(outputs.logits, labels).chunk(2)

    def reference_logps(self, model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """`pair_logps` of the reference: the same model with its adapter disabled, without gradients."""
        with torch.no_grad(), self.accelerator.unwrap_model(model).disable_adapter():
            return self.pair_logps(model, batch)

    def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """The batch mean of the sigmoid DPO loss; records the reward metrics for `log`."""
        policy_chosen, policy_rejected = self.pair_logps(model, inputs)
        ref_chosen, ref_rejected = self.reference_logps(model, inputs)
        losses, chosen_rewards, rejected_rewards = sigmoid_dpo_loss(policy_chosen, policy_rejected, ref_chosen,
                                                                    ref_rejected, self.beta)
        self._record(chosen_rewards, rejected_rewards, policy_chosen.detach(), policy_rejected.detach())
        loss = losses.mean()
        return (loss, {"chosen_rewards": chosen_rewards, "rejected_rewards": rejected_rewards}) if return_outputs \
            else loss

    def _record(self, chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, chosen_logps: torch.Tensor,
                rejected_logps: torch.Tensor) -> None:
        metrics = {"rewards/chosen": chosen_rewards, "rewards/rejected": rejected_rewards,
                   "rewards/margins": chosen_rewards - rejected_rewards,
                   "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
                   "logps/chosen": chosen_logps, "logps/rejected": rejected_logps}
        for name, values in metrics.items():
            self._metrics[name].append(values.float().mean().item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the reward metrics averaged since the last log (TRL's names) to `logs`."""
        logs.update({name: sum(values) / len(values) for name, values in self._metrics.items() if values})
        self._metrics.clear()
        super().log(logs, start_time)


def build_trainer(model: Any, tokenizer: Any, examples: Sequence[dict[str, str]], args: Any, lora: Any,
                  beta: float, max_length: int, seed: int) -> Seq2SeqDPOTrainer:
    """A `Seq2SeqDPOTrainer` for `model` wrapped with the LoRA config `lora` (drawn after seeding with
    `seed`), on the prompt/chosen/rejected `examples`; `args` are `TrainingArguments`."""
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import set_seed

    data = Dataset.from_list(encode_preferences(examples, tokenizer, max_length))
    set_seed(seed)  # peft draws lora_A from the global RNG; the Trainer seeds only later
    model = get_peft_model(model, lora)
    return Seq2SeqDPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                             data_collator=PreferenceCollator(tokenizer.pad_token_id), beta=beta)
