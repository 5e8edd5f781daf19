"""Hand-made minimal stage outputs that `publish` reads, one set per recipe kind.

`make_outputs(kind, root, recipe_path)` writes what `factory.stages.publish.build_release` reads
(data/filtered/<name>/{rows.parquet,report.json}, data/eval/<name>/metrics.json,
data/certify/<name>/certificate.json) with rows shaped like the real stages' rows: their
sources, drop reasons and attributes (keys that differ between rows included). No model runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.recipe import Recipe, load_recipe
from factory.core.records import Record, write_json, write_records

KINDS = ("toxify", "detoxify", "translate", "distill", "selfgen")


def _pair(recipe: Recipe, index: int, *, lang: str = "en", side: str = "toxic", **attributes: Any) -> Record:
    record = Record.make("pair", lang=lang, toxic=f"you utter idiot number {index} ({lang})",
                         neutral=f"you are wrong about number {index} ({lang})", source=f"synthetic:{recipe.kind}",
                         recipe=recipe.name, split="train")
    record.attributes = {"synthetic_side": side, **attributes}
    return record


def _text(recipe: Recipe, index: int, **attributes: Any) -> Record:
    record = Record.make("text", text=f"a calm sentence about the weather, take {index}",
                         source=f"synthetic:{recipe.kind}", recipe=recipe.name, split="train")
    record.attributes = {"synthetic_side": "neutral", "index": index, **attributes}
    return record


def pair_rows(recipe: Recipe) -> list[Record]:
    """toxify / detoxify: 6 kept rows, a refusal and a near-duplicate."""
    side = "toxic" if recipe.kind == "toxify" else "neutral"
    rows = [_pair(recipe, i, side=side, attempt=i % 2, similarity=0.5 + i / 100, toxicity=0.9) for i in range(8)]
    rows[6].drop("refusal")
    rows[7].drop("near_duplicate", rows[0].id)
    return rows


def translate_rows(recipe: Recipe) -> list[Record]:
    """translate: German and Spanish rows, translated and human (fixture) ones, one dropped by language ID."""
    rows = []
    for i, lang in enumerate(["de", "de", "es", "es", "de", "es"]):
        translated = i < 4
        extra = {"source_lang": "en", "toxic_truncated": False, "neutral_truncated": False} if translated else {}
        row = _pair(recipe, i, lang=lang, translated=translated, toxic_lang=lang, toxic_lang_p=0.91,
                    neutral_lang=lang, pair_similarity=0.7, **extra)
        row.source = "synthetic:translate" if translated else "human"
        rows.append(row)
    rows[3].drop("wrong_language")
    rows[3].attributes["drop_side"] = "neutral"
    return rows


def distill_rows(recipe: Recipe) -> list[Record]:
    """distill: every distilled text kept (the release has no dropped row)."""
    return [_text(recipe, i, words=8) for i in range(5)]


def selfgen_rows(recipe: Recipe) -> list[Record]:
    """selfgen: the least toxic half kept; an empty sample has no rank."""
    rows = [_text(recipe, i, toxicity=i / 10, toxicity_rank=i) for i in range(6)]
    for row in rows[3:]:
        row.drop("selfgen_rank_cut")
    rows[5].attributes.pop("toxicity_rank")
    rows[5].drop_reason = "selfgen_empty"
    return rows


ROWS = {"toxify": pair_rows, "detoxify": pair_rows, "translate": translate_rows,
        "distill": distill_rows, "selfgen": selfgen_rows}


def evaluation(kind: str) -> dict[str, Any]:
    """metrics.json of the evaluate stage: the mixing study (pair kinds) or base vs detoxified (LM kinds)."""
    if kind in ("distill", "selfgen"):
        base = {"EMT": 0.4, "TP": 0.3, "PPL": 50.0, "distinct_2_per_prompt": 0.8}
        detox = {"EMT": 0.3, "TP": 0.2, "PPL": 55.0, "distinct_2_per_prompt": 0.78, "ratio": 1.0}
        return {"definition": "EMT = ...", "kind": "lm", "systems": {"base/causal-lm": base,
                                                                    "causal-lm/ratio-1.00": detox},
                "targets": {"causal-lm": {"base": "base/causal-lm",
                                          "detoxified": {"ratio-1.00": "causal-lm/ratio-1.00"}}}}
    systems = {"identity": {"STA": 0.2, "SIM": 1.0, "FL": 0.9, "J": 0.18, "ChrF": 40.0, "BLEU": 20.0},
               "ratio-0.00": {"STA": 0.8, "SIM": 0.8, "FL": 0.9, "J": 0.57, "ratio": 0.0, "train_rows": 6},
               "ratio-1.00": {"STA": 0.7, "SIM": 0.8, "FL": 0.9, "J": 0.5, "ratio": 1.0, "train_rows": 6}}
    return {"definition": "J = ...", "scores": "soft", "systems": systems}


def certificate(recipe: Recipe, recipe_path: Path, *, certified: bool = True,
                limits: dict[str, int | None] | None = None) -> dict[str, Any]:
    """A certificate made for this exact recipe (its sha256), with one gate."""
    gates = [{"name": "rows", "value": 6, "threshold": 1, "op": ">=", "passed": certified, "note": "kept rows"}]
    provenance = {"recipe": {"name": recipe.name, "path": str(recipe_path), "sha256": recipe.fingerprint(),
                             "kind": recipe.kind},
                  "git": {"commit": "c0ffee" * 6 + "abcd", "dirty": False},
                  "models": {"generator": {"ref": "zoo:causal-lm", "local_fingerprint": "f00d"}}}
    if limits is not None:
        provenance["limits"] = {"stages": limits, "limited": any(v is not None for v in limits.values())}
    return {"recipe": recipe.name, "certified": certified, "profile": recipe.profile, "gates": gates,
            "metrics": {}, "provenance": provenance}


def make_outputs(kind: str, root: Path, recipe_path: Path, **certificate_options: Any) -> list[Record]:
    """Write the stage outputs `publish` reads for `recipe_path` (of `kind`) under `root`; return the rows."""
    recipe = load_recipe(recipe_path)
    rows = ROWS[kind](recipe)
    kept = sum(r.kept for r in rows)
    write_records(root / "filtered" / recipe.name / "rows.parquet", rows)
    write_json(root / "filtered" / recipe.name / "report.json", {
        "rows": len(rows), "kept": kept, "outcomes": {"kept": kept},
        "synthetic": {"distinct_2": 0.5}, "human": {"distinct_2": 0.6}})
    write_json(root / "eval" / recipe.name / "metrics.json", evaluation(kind))
    write_json(root / "certify" / recipe.name / "certificate.json",
               certificate(recipe, recipe_path, **certificate_options))
    return rows
