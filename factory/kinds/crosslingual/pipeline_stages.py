"""The DVC stages of a `crosslingual` recipe, for `factory pipeline`.

One stage per verb: `generate-<recipe>` (the reference split, and the factory corpus of
`crosslingual.data.corpus` when named: it depends on that recipe's kept rows), `train-<recipe>`
(every train setting; each resumes from its own checkpoints), `evaluate-<recipe>` (the matrices,
heat maps and per-cell DVC metrics) and `certify-<recipe>`. The kind has no ingest, filter, mix,
publish or report stage: its product is the certificate of a protocol, not a corpus.
"""

from __future__ import annotations

from typing import Any

from factory.crossft.matrices import ZERO_SHOT
from factory.recipe import Recipe
from factory.stage_names import StageSpec, _run

BASE = "data/crosslingual/{recipe}"


def stage_specs(recipe: Recipe) -> dict[str, Any]:
    """verb -> `StageSpec` of this recipe's stages."""
    from factory.kinds.crosslingual.steps import planned_runs, setting_label
    from factory.kinds.crosslingual.evaluation import cell_file

    corpus = recipe.crosslingual.data.corpus
    labels = [ZERO_SHOT, *(setting_label(*run) for run in planned_runs(recipe))]
    languages = recipe.crosslingual.data.languages
    cells = tuple(f"{BASE}/eval/{cell_file(label, lang)}" for label in labels for lang in languages)
    extra = (f"data/filtered/{corpus}/rows.parquet",) if corpus else ()
    heatmaps = tuple(f"{BASE}/eval/heatmap-{m}.png" for m in ("toxicity", "reduction", "perplexity"))
    return {
        "generate": StageSpec("generate {file}", _run("factory.stages.generate"), deps=extra, outs=(f"{BASE}/split",),
                              comment="""\
Kind crosslingual (Beniwal et al. 2025, Breaking mBad): the reference's per-language split (and a
factory-made corpus), one LoRA model per train setting, continuations in every language scored into
(train setting x eval language) matrices with 95% intervals, and a certificate on them. The DVC
metrics are one numbers-only file per cell (toxicity, perplexity): a row per cell."""),
        "train": StageSpec("train {file}", _run("factory.stages.train"), deps=(f"{BASE}/split",),
                           outs=(f"{BASE}/trained",)),
        "evaluate": StageSpec("evaluate {file}", _run("factory.stages.evaluate"), deps=(f"{BASE}/split", f"{BASE}/trained"),
                              outs=(f"{BASE}/eval/rows.parquet", f"{BASE}/eval/matrices.json", *heatmaps),
                              metrics=cells),
        "certify": StageSpec("certify {file}", _run("factory.stages.certify"),
                             deps=(f"{BASE}/eval/matrices.json", f"{BASE}/eval/rows.parquet"),
                             outs=({"data/certify/{recipe}/certificate.json": {"cache": False}},
                                   "data/certify/{recipe}/summary.json")),
    }
