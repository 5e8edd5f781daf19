"""Fine-tuning with TRL (SFTTrainer, DPOTrainer) and PEFT LoRA; transformers' Seq2SeqTrainer for mT5
SFT and `factory.crossft.seq2seq_dpo` for mT5 DPO (TRL has no encoder-decoder DPO).

Each run writes Trainer checkpoints into its own `checkpoints` folder (one per epoch) and
resumes from the newest one when restarted; a finished run leaves `checkpoints/final/` (the
adapter), so a rerun copies it instead of training again. `quantization: nf4` loads the
base in 4 bits through bitsandbytes (QLoRA, the reference's SFT), which needs CUDA.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError

FINAL = "final"
"""Subfolder of a run's checkpoints holding the finished adapter."""


@dataclass
class LoraSpec:
    """LoRA settings (r, alpha, dropout, wrapped module names)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


@dataclass
class RunSpec:
    """One training run: method (`sft`, `dpo`, `seq2seq` or `seq2seq-dpo`), optimisation settings, adapter, seed.
    `fp16` (mixed precision) and `optimizer` (a transformers `optim` name; None: the Trainer's default) apply
    on top of what `quantization` sets."""

    method: str
    epochs: float
    learning_rate: float
    batch_size: int
    grad_accumulation: int
    max_length: int
    lora: LoraSpec
    seed: int = 42
    quantization: str = "none"
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    beta: float = 0.1
    scheduler: str = "linear"
    dtype: str = "auto"
    fp16: bool = False
    optimizer: str | None = None
    gradient_checkpointing: bool = False
    drop_last_batch: bool = False

    def __repr__(self) -> str:
        """The dataclass repr, leaving out the later fields at their defaults (the checkpoint folder's
        fingerprint hashes this repr: runs that do not set them keep their earlier checkpoints)."""
        later = {"fp16": False, "optimizer": None, "gradient_checkpointing": False, "drop_last_batch": False}
        shown = [(name, getattr(self, name)) for name in self.__dataclass_fields__]
        shown = [(name, value) for name, value in shown if not (name in later and value == later[name])]
        return f"RunSpec({', '.join(f'{name}={value!r}' for name, value in shown)})"


SEQ2SEQ_METHODS = ("seq2seq", "seq2seq-dpo")
"""Methods that train an encoder-decoder model."""


def require_quantization(quantization: str, where: str) -> None:
    """Refuse `nf4` unless bitsandbytes is installed and CUDA is visible (one-line `FactoryError`)."""
    if quantization != "nf4":
        return
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") is None or not torch.cuda.is_available():
        raise FactoryError(f"{where}: nf4 (4-bit QLoRA) needs bitsandbytes and a CUDA GPU "
                           f"(bitsandbytes {'missing' if importlib.util.find_spec('bitsandbytes') is None else 'ok'}, "
                           f"CUDA {'visible' if torch.cuda.is_available() else 'absent'}); use quantization: none")


def require_precision(spec: RunSpec, where: str) -> None:
    """Refuse fp16 mixed precision or a paged (bitsandbytes) optimizer without a CUDA GPU (one-line
    `FactoryError`)."""
    import importlib.util

    import torch

    if spec.fp16 and not torch.cuda.is_available():
        raise FactoryError(f"{where}: fp16 mixed precision needs a CUDA GPU (absent); set fp16: false")
    paged = (spec.optimizer or "").startswith("paged_")
    if paged and (importlib.util.find_spec("bitsandbytes") is None or not torch.cuda.is_available()):
        raise FactoryError(f"{where}: optimizer {spec.optimizer} needs bitsandbytes and a CUDA GPU; "
                           "set optimizer: null")


def _quantization_config(quantization: str) -> Any:
    if quantization != "nf4":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float16,
                              bnb_4bit_use_double_quant=True)


def load_base(target: str, revision: str | None, architecture: str, quantization: str = "none",
              dtype: str = "auto") -> tuple[Any, Any]:
    """The base model (4-bit when nf4, else in `dtype` on the GPU when one is visible) and its tokenizer
    (a pad token set when missing)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    auto = AutoModelForSeq2SeqLM if architecture == "seq2seq" else AutoModelForCausalLM
    quantized = _quantization_config(quantization)
    extra = {"quantization_config": quantized, "device_map": "auto"} if quantized is not None else {}
    if quantized is None and torch.cuda.is_available():
        extra["device_map"] = "cuda"
    tokenizer = AutoTokenizer.from_pretrained(target, revision=revision)
    model = auto.from_pretrained(target, revision=revision, dtype=dtype if dtype == "auto" else getattr(torch, dtype),
                                 **extra)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if quantized is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    return model, tokenizer


def lora_config(spec: LoraSpec, seq2seq: bool) -> Any:
    """The PEFT `LoraConfig` of `spec` (task CAUSAL_LM or SEQ_2_SEQ_LM)."""
    from peft import LoraConfig

    return LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, bias="none",
                      target_modules=list(spec.target_modules), task_type="SEQ_2_SEQ_LM" if seq2seq else "CAUSAL_LM")


def _common_args(spec: RunSpec, checkpoints: Path) -> dict[str, Any]:
    import torch

    gpu = torch.cuda.is_available()
    args = {"output_dir": str(checkpoints), "num_train_epochs": spec.epochs, "learning_rate": spec.learning_rate,
            "per_device_train_batch_size": spec.batch_size, "gradient_accumulation_steps": spec.grad_accumulation,
            "seed": spec.seed, "data_seed": spec.seed, "save_strategy": "epoch", "save_total_limit": 1,
            "logging_steps": 10, "report_to": "none", "use_cpu": not gpu, "lr_scheduler_type": spec.scheduler,
            "warmup_steps": spec.warmup_steps, "max_grad_norm": spec.max_grad_norm, "disable_tqdm": True}
    # No mixed precision unless asked (TRL's configs default to bf16 autocast, which the reference never used,
    # and which on CPU mixes dtypes: fp16 weights fail in layer_norm); nf4 is the reference's fp16 QLoRA.
    args.update(bf16=False, fp16=False, gradient_checkpointing=spec.gradient_checkpointing,
                dataloader_drop_last=spec.drop_last_batch)
    if spec.quantization == "nf4":
        args.update(fp16=True, optim="paged_adamw_32bit")
    if spec.fp16:
        args.update(fp16=True)
    if spec.optimizer:
        args.update(optim=spec.optimizer)
    return args


def _trainer(spec: RunSpec, model: Any, tokenizer: Any, examples: list[dict[str, str]], checkpoints: Path) -> Any:
    from datasets import Dataset

    data = Dataset.from_list(examples)
    if spec.method == "sft":
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(**_common_args(spec, checkpoints), max_length=spec.max_length, dataset_text_field="text",
                         packing=False)
        return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                          peft_config=lora_config(spec.lora, False))
    if spec.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**_common_args(spec, checkpoints), beta=spec.beta, max_length=spec.max_length)
        return DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                          peft_config=lora_config(spec.lora, False))
    if spec.method == "seq2seq-dpo":
        from transformers import TrainingArguments

        from factory.crossft.seq2seq_dpo import build_trainer

        args = TrainingArguments(**_common_args(spec, checkpoints), remove_unused_columns=False, label_names=[])
        return build_trainer(model, tokenizer, examples, args, lora_config(spec.lora, True), spec.beta,
                             spec.max_length, spec.seed)
    return _seq2seq_trainer(spec, model, tokenizer, data, checkpoints)


def _seq2seq_trainer(spec: RunSpec, model: Any, tokenizer: Any, data: Any, checkpoints: Path) -> Any:
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, set_seed

    def encode(batch: dict[str, list[str]]) -> dict[str, Any]:
        inputs = tokenizer(batch["source"], truncation=True, max_length=spec.max_length)
        targets = tokenizer(text_target=batch["target"], truncation=True, max_length=spec.max_length)
        inputs["labels"] = targets["input_ids"]
        return inputs

    encoded = data.map(encode, batched=True, remove_columns=data.column_names)
    set_seed(spec.seed)  # peft draws lora_A from the global RNG; the Trainer seeds only later (TRL seeds first too)
    model = get_peft_model(model, lora_config(spec.lora, True))
    args = Seq2SeqTrainingArguments(**_common_args(spec, checkpoints))
    return Seq2SeqTrainer(model=model, args=args, train_dataset=encoded, processing_class=tokenizer,
                          data_collator=DataCollatorForSeq2Seq(tokenizer, model=model))


def _last_checkpoint(checkpoints: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None


def train_adapter(spec: RunSpec, target: str, revision: str | None, examples: list[dict[str, str]],
                  checkpoints: Path, out: Path) -> dict[str, Any]:
    """Train (or resume, or reuse) one LoRA adapter on `examples`; copy it to `out`; return its log."""
    final = Path(checkpoints) / FINAL
    resumed = None
    if not (final / "train_log.json").is_file():
        if not examples:
            raise FactoryError(f"{out}: no training rows")
        require_precision(spec, str(out))
        model, tokenizer = load_base(target, revision, "seq2seq" if spec.method in SEQ2SEQ_METHODS else "causal",
                                     spec.quantization, spec.dtype)
        trainer = _trainer(spec, model, tokenizer, examples, Path(checkpoints))
        resumed = _last_checkpoint(Path(checkpoints))
        result = trainer.train(resume_from_checkpoint=resumed)
        trainer.model.save_pretrained(final)
        tokenizer.save_pretrained(final)
        log = {"rows": len(examples), "steps": int(result.global_step), "train_loss": float(result.training_loss),
               "method": spec.method, "resumed_from": Path(resumed).name if resumed else None}
        (final / "train_log.json").write_text(json.dumps(log, indent=2, sort_keys=True) + "\n")
    shutil.copytree(final, out, dirs_exist_ok=True)
    return json.loads((final / "train_log.json").read_text())


def load_adapted(target: str, revision: str | None, adapter: Path | None, architecture: str,
                 quantization: str = "none", dtype: str = "auto") -> tuple[Any, Any]:
    """The base model (loaded as it was trained) with the LoRA adapter at `adapter` applied (None: the
    zero-shot base), in eval mode."""
    model, tokenizer = load_base(target, revision, architecture, quantization, dtype)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return model.eval(), tokenizer
