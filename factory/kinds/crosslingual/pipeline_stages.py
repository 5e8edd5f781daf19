"""The DVC stages of a `crosslingual` recipe, for `factory pipeline`.

One stage per verb: `generate-<recipe>` (the reference split, and the factory corpus of
`crosslingual.data.corpus` when named: it depends on that recipe's kept rows), `train-<recipe>`
(every train setting; each resumes from its own checkpoints), `evaluate-<recipe>` (the matrices
and heat maps), `certify-<recipe>` and `report-<recipe>` (the page and the numbers-only DVC
metrics summary, one row per recipe in `dvc metrics show`). The kind has no ingest, filter, mix
or publish stage: its product is the certificate of a protocol, not a corpus.
"""

from __future__ import annotations

from typing import Any

from factory.recipe import Recipe
from factory.stage_names import StageSpec, stage_entries

BASE = "data/crosslingual/{recipe}"


def stage_specs(recipe: Recipe) -> dict[str, Any]:
    """verb -> `StageSpec` of this recipe's stages."""
    corpus = recipe.crosslingual.data.corpus
    extra = (f"data/filtered/{corpus}/rows.parquet",) if corpus else ()
    heatmaps = tuple(f"{BASE}/eval/heatmap-{m}.png" for m in ("toxicity", "reduction", "perplexity"))
    return {
        "generate": StageSpec("generate {file}", stage_entries("factory.stages.generate"), deps=extra,
                              outs=(f"{BASE}/split",),
                              comment="""\
Kind crosslingual (Beniwal et al. 2025, Breaking mBad): the reference's per-language split (and a
factory-made corpus), one LoRA model per train setting, continuations in every language scored into
(train setting x eval language) matrices with 95% intervals, and a certificate on them. The DVC
metrics are the report's numbers-only summary, data/metrics/<recipe>.json: one row per recipe."""),
        "train": StageSpec("train {file}", stage_entries("factory.stages.train"), deps=(f"{BASE}/split",),
                           outs=(f"{BASE}/trained",)),
        "evaluate": StageSpec("evaluate {file}", stage_entries("factory.stages.evaluate"),
                              deps=(f"{BASE}/split", f"{BASE}/trained"),
                              outs=(f"{BASE}/eval/rows.parquet", f"{BASE}/eval/matrices.json", *heatmaps)),
        "certify": StageSpec("certify {file}", stage_entries("factory.stages.certify"),
                             deps=(f"{BASE}/eval/matrices.json", f"{BASE}/eval/rows.parquet"),
                             outs=({"data/certify/{recipe}/certificate.json": {"cache": False}},
                                   "data/certify/{recipe}/summary.json")),
        "report": StageSpec("report {file}", ("factory.cli:report",), deps=(
            "data/certify/{recipe}/certificate.json", f"{BASE}/eval/matrices.json", *heatmaps,
            f"{BASE}/trained", f"{BASE}/split"), outs=("data/report/{recipe}.html",),
            metrics=("data/metrics/{recipe}.json",)),
    }
