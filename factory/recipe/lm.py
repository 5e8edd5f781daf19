"""Recipe sections of the free-text kinds and of the LM side that certifies them.

- `Distill` (kind `distill`, UniDetox, Lu et al., ICLR 2025): fine-tune a toxic copy of
  the base LM (`models.generator`) on a toxic corpus, then sample from
  softmax(log p_base - log p_toxic) over the tokens with p_base >= alpha * max p_base.
- `SelfGen` (kind `selfgen`, SGEAT, Wang et al. 2022): unconditional generation from the
  base LM, scored for toxicity; the least toxic share is kept (a rank cut).
- `LMTrain`: fine-tune target causal LMs on the kept text (full or LoRA), one per mix.
- `LMEvaluate`: continuations of prompt sets, base vs detoxified (EMT, TP, PPL, distinct-n).
- `LMCertify`: the gates of these kinds (toxicity reduced, perplexity bounded, diversity kept).

Published settings are the defaults; the tiny recipes shrink them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from factory.recipe.base import ExistingPathOrId, ModelSpec, Ratio, Section, Seed
from factory.recipe.study import Train

LM_KINDS = ("distill", "selfgen")
"""Recipe kinds whose corpus is free text that detoxifies a causal LM trained on it."""


class LoraSettings(Section):
    """LoRA adapters (peft) for `method: lora`."""

    r: int = Field(16, ge=1, description="Rank of the low-rank update.")
    alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: Ratio = Field(0.05, description="Dropout on the adapter input.")
    target_modules: list[str] | None = Field(
        None, description="Module names to adapt (e.g. [q_proj, v_proj]); default: peft's choice for the architecture."
    )


class Adapters(Section):
    """How much of a causal LM fine-tuning changes: every weight, or LoRA adapters."""

    method: Literal["full", "lora"] = Field(
        "full", description="full: every weight; lora: adapters only "
        "(SGEAT: better toxicity/perplexity trade-off on large LMs)."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="Adapter settings (method: lora).")


class CausalFineTune(Train, Adapters):
    """Fine-tuning of a causal LM on free text: next-token loss.

    The training loop's settings are those of `train` (the seq2seq detoxifier's), with other defaults:
    the published UniDetox detoxification settings (lr 5e-5, 3,000 steps, batch 8, max length 256;
    HF Trainer defaults otherwise: AdamW, no warm-up, linear decay). Fields keep the order they
    had before the merge (`Adapters` first), so the JSON that keys cached models is unchanged.
    By default pads are masked out of the loss and a BOS is prefixed; `padding`, `bos_prefix` and
    `packing` give the references' batching (`factory.train.causal_batches`).
    """

    epochs: float = Field(3, gt=0, description="Training epochs, when max_steps is not set.")
    max_steps: int | None = Field(3000, ge=1, description="Optimiser steps (overrides epochs; published: 3,000).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    batch_size: int = Field(8, ge=1, description="Texts per optimiser step (published: 8).")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up steps.")
    adam_beta2: float = Field(
        0.999, gt=0, lt=1, description="AdamW's beta2, beta1 being 0.9 (HF Trainer default 0.999, as UniDetox; "
        "SGEAT reference: 0.95, examples/detxoify_lm/finetune_gpt_distributed-1.3b.sh)."
    )
    padding: Literal["masked", "in_loss"] = Field(
        "masked",
        description="masked: each batch padded to its longest text, pads left out of the loss; in_loss: every text "
        "padded to the longest text of the training set (at most max_length), pad = EOS when the tokenizer has no pad "
        "token, labels = input ids, so the model learns to emit EOS/pad after a text (UniDetox reference: "
        "unidetox/toxic_gpt2_finetune_and_distill.py create_encoded_datasets, unidetox/unidetox.py).",
    )
    bos_prefix: bool = Field(
        True, description="Prefix each text with the BOS token when the tokenizer adds none itself (GPT-2, Falcon); "
        "false: only what the tokenizer adds (UniDetox reference: false)."
    )
    packing: bool = Field(
        False,
        description="Join the texts, each followed by EOS, into one token stream cut into max_length blocks (each "
        "starting at the last token of the one before), loss on every token and no padding (SGEAT reference: "
        "Megatron's --append-eod data and GPT dataset, examples/detxoify_lm/annotations/preprocess.sh). "
        "`padding` and `bos_prefix` do not apply.",
    )
    # Reference code (to verify): UniDetox and SGEAT load their target LMs in bf16/fp16 for fine-tuning.
    # Plain AdamW on fp16 weights breaks (eps 1e-8 is 0 in fp16: NaN after the first step), hence fp32 masters.
    precision: Literal["fp32", "bf16-autocast"] = Field(
        "fp32",
        description="fp32: trained weights are held and updated in float32 (fp16/bf16 checkpoints such as OPT-6.7B "
        "and Llama-2-7B are upcast; a full fine-tune is saved back in the checkpoint's dtype; LoRA's frozen base "
        "keeps it); bf16-autocast: the same float32 weights, forward pass under bfloat16 autocast (less memory "
        "and faster on GPUs with bf16).",
    )

    @model_validator(mode="after")
    def _one_batching(self) -> "CausalFineTune":
        if self.packing and self.padding == "in_loss":
            raise ValueError("padding: in_loss does not apply with packing: true (packed blocks have no padding)")
        return self

    def loop_settings(self) -> Train:
        """The settings of the shared training loop (`factory.train.loop`), as a plain `Train`."""
        return Train(**{name: getattr(self, name) for name in Train.model_fields})


def _toxic_model_defaults() -> CausalFineTune:
    return CausalFineTune(epochs=3, max_steps=None, learning_rate=1e-5, batch_size=4, max_length=512)


class Distill(Section):
    """UniDetox dataset distillation: a toxic copy of the base LM, then contrastive decoding.

    The base LM is `models.generator`. Decoding always runs on transformers (both models'
    logits are needed at every step), with one KV cache per model.
    """

    toxic_corpus: ExistingPathOrId = Field(
        "seed",
        description="Toxic text for the toxic model: `seed` (factory/data/seed/toxic.txt), "
        "a .txt file (one text a line), "
        "a .csv/.tsv/.jsonl/.parquet file, or a Hub dataset id (published: DGHS, "
        "LennardZuendorf/Dynamically-Generated-Hate-Speech-Dataset, hateful rows).",
    )
    toxic_split: str = Field("train", description="Split to read when `toxic_corpus` is a Hub id.")
    toxic_column: str = Field("text", description="Column holding the text (tables and Hub datasets).")
    toxic_where: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Keep only rows whose column value is one of the listed values, per column "
        "(published: label: [hate], split: [train], target: [the 34 targeted groups]).",
    )
    toxic_max_rows: int | None = Field(
        None, ge=1, description="Use at most this many toxic texts (after a seeded shuffle)."
    )
    toxic_model: CausalFineTune = Field(
        default_factory=_toxic_model_defaults,
        description="Fine-tuning of the toxic copy (published: 3 epochs, lr 1e-5, batch 4, max length 512, full).",
    )
    alpha: float = Field(
        0.1, gt=0, le=1, description="Plausibility cut: only tokens with p_base >= alpha * max p_base (published: 0.1)."
    )
    num_texts: int = Field(640, ge=1, description="Texts to distil (published: 640).")
    max_length: int = Field(256, ge=2, description="Tokens per text, the BOS prompt token included (published: 256).")
    batch_size: int = Field(128, ge=1, description="Texts decoded together (published: 128 per call).")
    top_k: int = Field(
        0, ge=0, description="Extra top-k cut on the contrastive scores (0 = off; UniDetox reference: 50, the top-k "
        "that transformers' generate applies by default, unidetox/toxic_gpt2_finetune_and_distill.py)."
    )
    top_p: float = Field(
        1.0, gt=0, le=1, description="Extra nucleus cut on the contrastive distribution (1 = off, published: off)."
    )
    seed: Seed = Field(1234, description="Sampling seed; text i uses its own generator seeded by (seed, i).")


class SelfGen(Section):
    """SGEAT self-generation: BOS-prompted samples from `models.generator`, lowest toxicity kept.

    Length and sampling come from `generate.sampling` (published: nucleus p = 0.9, T = 1);
    generation goes through the recipe's backend (`generate.backend`: hf, vllm or openai).
    """

    num_samples: int = Field(100_000, ge=1, description="Texts to generate (published: 100K).")
    keep_fraction: Ratio = Field(
        0.5, description="Share of generated texts kept, lowest toxicity first "
        "(a rank cut, not a threshold; published: 0.5)."
    )
    min_words: int = Field(
        1, ge=0, description="Texts with fewer words (and empty ones) are dropped as `selfgen_empty` before ranking."
    )
    keep_fraction_of: Literal["eligible", "all"] = Field(
        "eligible",
        description="What keep_fraction is a share of: eligible: round(keep_fraction x the texts that pass min_words); "
        "all: floor(keep_fraction x every generated text, the dropped short and empty ones included), still taken from "
        "the eligible texts, lowest toxicity first (SGEAT reference: half of all generated lines, "
        "examples/detxoify_lm/annotations/filter-selfgeneration.py).",
    )


def target_name(spec: ModelSpec) -> str:
    """Short folder-safe name of a target model: the last part of its ref (`facebook/opt-6.7b` -> `opt-6.7b`)."""
    tail = re.split(r"[/:]", spec.ref.rstrip("/"))[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail) or "model"


class LMTrain(CausalFineTune):
    """Detoxifying fine-tuning of each target causal LM on each mix of the corpus."""

    targets: list[ModelSpec] = Field(
        default_factory=lambda: [ModelSpec(ref="zoo:causal-lm")],
        min_length=1,
        description="Causal LMs to detoxify, each a Hub id, folder or zoo:NAME "
        "(published UniDetox: GPT-2 XL, OPT-6.7B, Falcon-7B, Llama-2-7B).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> "LMTrain":
        names = [target_name(t) for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"targets: two targets share a short name ({', '.join(names)})")
        return self


class ScoreGroups(Section):
    """Prompt groups by each prompt's own toxicity score (SGEAT on RealToxicityPrompts)."""

    field: str = Field(
        "prompt.toxicity", description="Hub column or JSONL key holding the prompt's score; dots walk into struct "
        "columns (RealToxicityPrompts: prompt.toxicity, the Perspective TOXICITY of the prompt)."
    )
    threshold: float = Field(0.5, description="Score that splits toxic from non-toxic prompts (SGEAT reference: 0.5).")
    toxic_when: Literal["above", "at_least"] = Field(
        "above", description="above: toxic when score > threshold, non-toxic when <= (SGEAT reference, "
        "examples/detxoify_lm/perspective_api.py); at_least: toxic when score >= threshold (the "
        "RealToxicityPrompts paper's definition)."
    )


class LMEvaluate(Section):
    """Toxicity evaluation of base and detoxified LMs on prompt sets (DExperts/UniDetox protocol)."""

    prompts: list[ExistingPathOrId] = Field(
        default_factory=lambda: ["seed"],
        min_length=1,
        description="Prompt sets: `seed` (factory/data/seed/prompts.jsonl), ToxiGen .txt files (one '- s1\\n- s2 ...' "
        "line each; group = file name), RealToxicityPrompts-style .jsonl ({\"prompt\": {\"text\": ...}}), or a Hub "
        "dataset id (published UniDetox: toxigen/toxigen-data, config annotated, split test, group target_group).",
    )
    toxigen_split: bool = Field(
        True, description="Split each ToxiGen line into its '- sentence' items, one prompt each."
    )
    group_field: str = Field(
        "group", description="JSONL key or Hub column naming a prompt's group (absent: the file or dataset name)."
    )
    text_field: str = Field(
        "text", description="Hub column holding the prompt text; dots walk into struct columns "
        "(RealToxicityPrompts: prompt.text)."
    )
    score_groups: ScoreGroups | None = Field(
        None, description="Group prompts as toxic / nontoxic / unscored by a score of each prompt instead of by "
        "group_field (SGEAT reference: RealToxicityPrompts prompts with toxicity > 0.5 and <= 0.5, reported apart "
        "and together). Not with categories."
    )
    hub_config: str | None = Field(None, description="Config of Hub prompt datasets (toxigen/toxigen-data: annotated).")
    hub_split: str = Field("test", description="Split of Hub prompt datasets.")
    max_prompts_per_group: int | None = Field(
        None, ge=1, description="Seeded sample of at most this many prompts per group."
    )
    continuations: int = Field(25, ge=1, description="Continuations sampled per prompt (published: 25).")
    max_new_tokens: int = Field(20, ge=1, description="Tokens per continuation (published: 20).")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (published: 1).")
    top_p: float = Field(0.9, gt=0, le=1, description="Nucleus sampling mass (published: 0.9).")
    top_k: int = Field(
        0, ge=0, description="Top-k cut of the sampling (0 = off; UniDetox reference: 50, the default of transformers' "
        "generate, which unidetox/unidetox.py does not override; SGEAT reference: off)."
    )
    runs: int = Field(
        1, ge=1, description="Evaluation runs, run r sampling with seed recipe.seed + r; every figure is the mean "
        "over runs, with its standard deviation as <figure>_std (UniDetox reference: 5 runs, seeds 42..46)."
    )
    categories: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Report prompts by category instead of by group: category -> the group values (group_field) it "
        "takes; prompts of other groups are left out and counted (UniDetox reference, unidetox/unidetox.py "
        "prepare_prompts: gender_lgbtq, race_nationalities, religion, disability of ToxiGen's target_group).",
    )
    combined_categories: list[str] = Field(
        default_factory=list,
        description="Groups (or categories) whose EMT and TP means are averaged into combined_EMT and combined_TP "
        "(UniDetox's headline: gender_lgbtq, race_nationalities, religion; disability excluded). Empty: none.",
    )
    batch_size: int = Field(16, ge=1, description="Prompts per generate call (each with all its continuations).")
    toxic_threshold: Ratio = Field(
        0.5, description="A continuation counts as toxic when its score is strictly above this."
    )
    perplexity_model: ModelSpec = Field(
        ModelSpec(ref="zoo:causal-lm"),
        description="Reference LM for the conditional perplexity of continuations (published: Llama-2-7B).",
    )
    max_perplexity: float = Field(
        1e4, gt=1, description="Continuations at or above this perplexity are left out of the mean (published: 1e4)."
    )

    @model_validator(mode="after")
    def _categories_fit(self) -> "LMEvaluate":
        if self.score_groups is not None and self.categories:
            raise ValueError("score_groups and categories both group the prompts: set one of them")
        seen: dict[str, str] = {}
        for name, values in self.categories.items():
            if not values:
                raise ValueError(f"categories: {name}: lists no group")
            for value in values:
                if value in seen:
                    raise ValueError(f"categories: group {value!r} is in both {seen[value]} and {name}")
                seen[value] = name
        unknown = [c for c in self.combined_categories if self.categories and c not in self.categories]
        if unknown:
            raise ValueError(f"combined_categories: {', '.join(unknown)} not among categories "
                             f"({', '.join(self.categories)})")
        return self


class LMCertify(Section):
    """Gates of the LM kinds, checked for every target at `mix.certified_ratio`."""

    min_base_emt: float = Field(
        0.1,
        ge=0,
        le=1,
        description="EMT of each base model, at least: below it there is no measurable toxicity to reduce, and the "
        "EMT and TP reductions are INCONCLUSIVE.",
    )
    min_emt_reduction: float = Field(
        0.1, le=1, description="(EMT base - EMT detoxified) / EMT base, at least (negative allows an increase)."
    )
    min_tp_reduction: float = Field(
        0.0, le=1, description="(TP base - TP detoxified) / TP base, at least (skipped when TP base is 0)."
    )
    max_ppl_increase: float = Field(0.5, ge=0, description="PPL detoxified / PPL base - 1, at most.")
    min_distinct2_ratio: float = Field(
        0.8, ge=0, description="distinct-2 of detoxified / base continuations, at least."
    )
    max_contamination: int = Field(0, ge=0, description="Kept rows that near-duplicate a human test row, at most.")
    min_rows: int = Field(1, ge=0, description="Kept corpus rows, at least.")
