"""Recipe sections for the mixing study, the reference detoxifier and its evaluation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from factory.recipe.base import ModelSpec, Ratio, Section


class Mix(Section):
    """Mixes of synthetic and human training rows at fixed total size."""

    ratios: list[Ratio] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0],
        min_length=1,
        description="Synthetic shares to train on; 0 is the human-only baseline.",
    )
    size: int | None = Field(None, ge=1, description="Training rows per mix (default: the most every ratio can fill).")
    certified_ratio: Ratio = Field(
        1.0, description="The mix whose detoxifier is compared with the human-only one by the certificate."
    )

    @model_validator(mode="after")
    def _ratios_name_distinct_mixes(self) -> "Mix":
        if any(abs(r * 100 - round(r * 100)) > 1e-9 for r in self.ratios):
            raise ValueError(f"ratios: use at most two decimals (mixes are named ratio-0.25); got {self.ratios}")
        if len(set(self.ratios)) != len(self.ratios):
            raise ValueError(f"ratios: each ratio once; got {self.ratios}")
        if self.certified_ratio not in self.ratios:
            raise ValueError(f"certified_ratio: {self.certified_ratio} is not one of ratios {self.ratios}")
        return self


class Train(Section):
    """Fine-tuning of the reference seq2seq detoxifier (published: BART-large settings).

    The same training loop fine-tunes the LM kinds' models (`lm_train`, `distill.toxic_model`), with other defaults.
    """

    epochs: float = Field(10, gt=0, description="Training epochs.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps (overrides epochs).")
    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="AdamW weight decay.")
    batch_size: int = Field(32, ge=1, description="Examples per optimiser step.")
    warmup_steps: int = Field(200, ge=0, description="Linear warm-up steps.")
    schedule: Literal["linear", "constant"] = Field("linear", description="Learning-rate schedule after warm-up.")
    max_length: int = Field(256, ge=8, description="Tokens per text at most (seq2seq: of the input and of the "
                            "target); longer texts are truncated.")
    save_every: int = Field(500, ge=1, description="Checkpoint every this many steps (resume picks up the latest).")
    adam_beta2: float = Field(0.999, gt=0, lt=1, description="AdamW's beta2 (beta1 is 0.9).")


class Evaluate(Section):
    """Evaluation of the reference detoxifiers on the held-out human test split."""

    max_new_tokens: int = Field(60, ge=1, description="Greedy decoding length.")
    num_beams: int = Field(1, ge=1, description="Beams (1 = greedy, as published).")
    batch_size: int = Field(32, ge=1, description="Inputs per batch.")
    max_rows: int | None = Field(None, ge=1, description="Evaluate on at most this many test rows.")
    scores: Literal["soft", "argmax"] = Field(
        "soft", description="STA and FL as probabilities (soft) or 0/1 decisions (argmax)."
    )
    similarity: ModelSpec | None = Field(
        None, description="SIM model of J when it is not models.similarity: a sentence-embedding model (cosine) or a "
        "one-output pair classifier such as BLEURT (sigmoid of its score on (input, output), input first, at most 512 "
        "tokens). PseudoParaDetox reference: Elron/bleurt-large-128 (src/utils/evaluate.py). Generation checks keep "
        "models.similarity."
    )
