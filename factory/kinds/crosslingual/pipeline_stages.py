"""The DVC stages of a `crosslingual` recipe, for `factory pipeline`.

- `generate-<recipe>`: the reference split (and the factory corpus of `crosslingual.data.corpus`
  when named: it depends on that recipe's kept rows);
- `train-<recipe>-<setting>`: one per trained model (`sft-de-100`), resuming from its own checkpoints;
- `evaluate-<recipe>-<setting>-<lang>`: one per (model, eval language) cell, the zero-shot baselines
  included; a trained setting's cell depends on its baseline's cell (its reduction is paired with it).
  Each cell's test-toxic numbers with intervals are DVC metrics, one row per cell. With
  `evaluate_stages: per_setting`, one `evaluate-<recipe>-<setting>` per model writes its cells instead;
- `evaluate-<recipe>`: every cell gathered into the matrices and heat maps;
- `certify-<recipe>`; `embed-<recipe>` (the embedding analysis, when `embeddings.enabled`);
  `report-<recipe>` (the page and the numbers-only summary, one row per recipe in `dvc metrics show`).

The kind has no ingest, filter, mix or publish stage: its product is the certificate of a protocol,
not a corpus.
"""

from __future__ import annotations

from typing import Any

from factory.kinds.crosslingual.cells import baseline_of, eval_settings
from factory.kinds.crosslingual.evaluation import heatmap_names
from factory.kinds.crosslingual.naming import planned_labels
from factory.recipe import Recipe
from factory.stage_names import StageSpec, stage_entries

BASE = "data/crosslingual/{recipe}"
SETTINGS = ("model", "architecture", "quantization", "methods", "train_settings", "shares", "share_settings",
            "dpo_settings", "data")
"""What every model-facing stage reads: which models exist and the data they see."""
READS = {
    "generate": ("data",),
    "train": (*SETTINGS, "lora", "sft", "dpo", "continuation.seed"),  # the training seed is continuation.seed
    "evaluate": (*SETTINGS, "continuation", "dpo_continuation", "zero_shot_continuation", "prompt_sets", "toxicity",
                 "toxicity_fallback", "perplexity_model", "certify.bootstrap_resamples", "certify.bootstrap_seed"),
    "embed": (*SETTINGS, "embeddings"),
}
"""Verb -> the parts of the `crosslingual` section its code reads: a changed gate threshold re-runs certify, not
the training of every model (the adapters are deps of evaluate, so a changed `sft` reaches it through them)."""


def _narrow(verb: str) -> tuple[str, ...]:
    return tuple(f"crosslingual.{key}" for key in READS[verb])
CLI = "factory.kinds.crosslingual.cli"
COMMENT = """\
Kind crosslingual (Beniwal et al. 2025, Breaking mBad): the reference's per-language split (and a
factory-made corpus), one LoRA model per train setting (a stage each), continuations of every prompt
set in every language (a stage per model and language, whose test-toxic numbers are DVC metrics),
gathered into (train setting x eval language) matrices with 95% intervals, and a certificate on them."""


def _cell(recipe: Recipe, setting: str, langs: tuple[str, ...] = ("{lang}",)) -> StageSpec:
    """The stage of one cell (`langs` the {lang} placeholder), or of one model over every language in `langs`."""
    baseline = baseline_of(recipe, setting)
    deps = [f"{BASE}/split"]
    if baseline is not None:
        deps += [f"{BASE}/trained/{setting}", *(f"{BASE}/cells/{baseline}/{lang}.parquet" for lang in langs)]
    args = "crosslingual evaluate {file} --setting {setting}" + (" --lang {lang}" if langs == ("{lang}",) else "")
    return StageSpec(args, (f"{CLI}:evaluate",), deps=tuple(deps),
                     outs=tuple(f"{BASE}/cells/{{setting}}/{lang}.parquet" for lang in langs),
                     metrics=tuple(f"{BASE}/cells/{{setting}}/{lang}.json" for lang in langs),
                     narrow=_narrow("evaluate"))


def stage_specs(recipe: Recipe) -> dict[Any, StageSpec]:
    """(verb, *parts) -> `StageSpec` of this recipe's stages, in run order; parts fill {setting} and {lang}."""
    corpus = recipe.crosslingual.data.corpus
    extra = (f"data/filtered/{corpus}/rows.parquet",) if corpus else ()
    heatmaps = tuple(f"{BASE}/eval/{name}" for name in heatmap_names(recipe))
    specs: dict[Any, StageSpec] = {
        ("generate",): StageSpec("generate {file}", stage_entries("factory.stages.generate"), deps=extra,
                                 outs=(f"{BASE}/split",), comment=COMMENT, narrow=_narrow("generate"))}
    for label in planned_labels(recipe):
        specs[("train", label)] = StageSpec("crosslingual train {file} --setting {setting}", (f"{CLI}:train",),
                                            deps=(f"{BASE}/split",), outs=(f"{BASE}/trained/{{setting}}",),
                                            narrow=_narrow("train"))
    langs = tuple(recipe.crosslingual.data.languages)
    for setting in eval_settings(recipe):
        if recipe.crosslingual.evaluate_stages == "per_setting":
            specs[("evaluate", setting)] = _cell(recipe, setting, langs)
            continue
        for lang in langs:
            specs[("evaluate", setting, lang)] = _cell(recipe, setting)
    specs[("evaluate",)] = StageSpec("crosslingual matrices {file}", (f"{CLI}:matrices",), deps=(f"{BASE}/cells",),
                                     outs=(f"{BASE}/eval/rows.parquet", f"{BASE}/eval/matrices.json", *heatmaps),
                                     narrow=_narrow("evaluate"))
    specs[("certify",)] = StageSpec("certify {file}", stage_entries("factory.stages.certify"),
                                    deps=(f"{BASE}/eval/matrices.json", f"{BASE}/eval/rows.parquet"),
                                    outs=({"data/certify/{recipe}/certificate.json": {"cache": False}},
                                          "data/certify/{recipe}/summary.json"))
    trained = tuple(f"{BASE}/trained/{label}" for label in planned_labels(recipe))
    embeddings: tuple[str, ...] = ()
    if recipe.crosslingual.embeddings.enabled:
        chosen = recipe.crosslingual.embeddings.chosen(recipe.crosslingual)
        specs[("embed",)] = StageSpec("crosslingual embed {file}", (f"{CLI}:embed",), deps=(
            f"{BASE}/split", *(f"{BASE}/trained/{s}" for s in chosen if s != "zero-shot")),
            outs=(f"{BASE}/embeddings",), narrow=_narrow("embed"))
        embeddings = (f"{BASE}/embeddings",)
    specs[("report",)] = StageSpec("report {file}", ("factory.cli:report",), deps=(
        "data/certify/{recipe}/certificate.json", f"{BASE}/eval/matrices.json", *heatmaps, *trained, *embeddings,
        f"{BASE}/split"), outs=("data/report/{recipe}.html",), metrics=("data/metrics/{recipe}.json",))
    return specs
