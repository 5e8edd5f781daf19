"""A throwaway recipe kind, `echo`, that lives in the tests folder: the example of "Adding a kind".

Its generator "rewrites" each human pair by echoing the neutral side, shouted, as the toxic
side; its study trains nothing and scores each mix by the share of synthetic rows. It needs no
model, so a test can run it through every stage in seconds. Registered by one line:
`KINDS["echo"] = "echo_kind"` (tests/test_kind_registry.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from factory.core.gates import gate
from factory.core.layout import Layout
from factory.core.records import Record, atomic_dir, content_id, read_json, read_records, write_json, write_records
from factory.kinds.base import Release, Study
from factory.methods import Method
from factory.recipe import Recipe

STUDY: Study = "mixing"
PAIRS = True
GRID = False
OWN_PIPELINE = False


def generate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """One synthetic pair per human train pair: the neutral side, shouted, as the toxic side."""
    layout = Layout(root)
    rows = [Record.make("pair", toxic=(r.neutral or "").upper() + "!", neutral=r.neutral, source="synthetic:echo",
                        lang=r.lang, group=content_id(r.id), attributes={"synthetic_side": "toxic"})
            for r in read_records(layout.human_split(recipe.name, "train"))[:limit]]
    with atomic_dir(layout.generated(recipe.name)) as tmp:
        write_records(tmp / "rows.parquet", rows)
    return layout.generated(recipe.name)


def train(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """No model: the summary lists each mix and its rows."""
    layout = Layout(root)
    manifest = read_json(layout.mix_manifest(recipe.name))
    summary = {f"ratio-{m['ratio']:.2f}": {"rows": len(read_records(layout.mixed(recipe.name)
                                                                     / f"ratio-{m['ratio']:.2f}.parquet"))}
               for m in manifest["mixes"]}
    with atomic_dir(layout.trained(recipe.name)) as tmp:
        write_json(tmp / "summary.json", summary)
    return layout.trained(recipe.name)


def evaluate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """`J` of a mix is its synthetic share (a stand-in score that needs no model)."""
    layout = Layout(root)
    trained = read_json(layout.trained(recipe.name) / "summary.json")
    systems = {stem: {"J": float(stem.removeprefix("ratio-")), "ratio": float(stem.removeprefix("ratio-")),
                      "train_rows": entry["rows"]} for stem, entry in trained.items()}
    with atomic_dir(layout.evaluated(recipe.name)) as tmp:
        write_json(tmp / "metrics.json", {"definition": "J = synthetic share (echo)", "scores": "soft",
                                          "systems": systems})
    return layout.evaluated(recipe.name)


def certify(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Two gates: kept rows, and contamination."""
    report = inputs["report"]
    gates = [gate("rows", report["kept"], recipe.certify.min_rows, ">=", "kept synthetic rows"),
             gate("contamination", report["contamination"], recipe.certify.max_contamination, "<=")]
    return Release(gates, {"kept_rows": report["kept"]}, {}, "rows")


def uses_generate_backend(recipe: Recipe) -> bool:
    """No backend: the echo is computed."""
    return False


def method(recipe: Recipe) -> Method:
    """The card's method line."""
    return Method("Echo (a test kind: the neutral side, shouted)", "@misc{echo, title = {Echo}, year = {2026}}",
                  "human pairs: the rows' neutral sides are theirs")


def cache_folders(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    """No caches."""
    return {}


def export_corpus(recipe: Recipe, root: Path, kept: list) -> list:
    """The kept pairs."""
    return kept


def extra_run(recipe: str, root: Path, limit: Optional[int]) -> None:
    """Nothing more."""


def commands() -> dict[str, Any]:
    """No extra commands."""
    return {}
