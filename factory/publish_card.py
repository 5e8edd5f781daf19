"""The Hub dataset card of a release: metadata, content warning, provenance, metrics."""

from __future__ import annotations

from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from factory.metrics import J_DEFINITION
from factory.recipe import Recipe

CONTENT_WARNING = (
    "> **Content warning.** This dataset contains toxic, offensive and insulting language, "
    "generated or collected to train and evaluate detoxification models. It is meant for "
    "research on making language models safer; do not use it to produce or spread abuse."
)


def size_category(rows: int) -> str:
    """The Hub's size category for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(evaluation: dict[str, Any]) -> str:
    """Markdown table of every evaluated system."""
    keys = ["STA", "SIM", "FL", "J", "ChrF", "BLEU"]
    rows = [[name, *[s.get(k, "") for k in keys]] for name, s in evaluation.get("systems", {}).items()]
    return _table(["system", *keys], rows)


def gates_table(certificate: dict[str, Any]) -> str:
    """Markdown table of the certificate's gates."""
    rows = [[g["name"], g["value"], f"{g['op']} {g['threshold']}", "pass" if g["passed"] else "FAIL"]
            for g in certificate["gates"]]
    return _table(["gate", "value", "threshold", "verdict"], rows)


def build_card(recipe: Recipe, certificate: dict[str, Any], evaluation: dict[str, Any], report: dict[str, Any],
               splits: dict[str, list[str]], counts: dict[str, int], *, forced: bool) -> DatasetCard:
    """Build the dataset card (YAML metadata + Markdown body)."""
    data = DatasetCardData(
        license=recipe.publish.license,
        language=[recipe.human.lang],
        task_categories=["text-generation", "text2text-generation"],
        tags=sorted({"not-for-all-audiences", "detoxification", "synthetic", recipe.kind, *recipe.publish.tags}),
        size_categories=[size_category(sum(counts.values()))],
        pretty_name=recipe.publish.pretty_name or recipe.name,
        configs=[{"config_name": "default", "data_files": [
            {"split": split, "path": f"data/{split}-*.parquet"} for split in splits]}],
    )
    prov = certificate["provenance"]
    status = "CERTIFIED" if certificate["certified"] else "NOT CERTIFIED"
    forced_line = ("\n> **This release failed certification and was published with --force.**\n" if forced else "")
    body = f"""
# {recipe.publish.pretty_name or recipe.name}
{forced_line}
{CONTENT_WARNING}

{recipe.description or f"A `{recipe.kind}` corpus made by Detox Factory."}

- Certification: **{status}** (profile `{recipe.profile}`)
- Rows: {counts.get("train", 0)} kept (`train`), {counts.get("dropped", 0)} dropped with reasons (`dropped`)
- Recipe: `{prov["recipe"]["name"]}` (sha256 `{prov["recipe"]["sha256"][:16]}`), kind `{recipe.kind}`
- Code: git commit `{prov["git"]["commit"]}`{" (uncommitted changes)" if prov["git"].get("dirty") else ""}
- Models: {", ".join(f"{role}: `{m.get('ref')}`" for role, m in prov["models"].items())}
- Scores are {evaluation.get("scores", "soft")} probabilities, not argmax decisions, unless stated otherwise.

## Metrics

{J_DEFINITION}.

{metrics_table(evaluation)}

Corpus: distinct-2 of the kept synthetic side {report.get("synthetic", {}).get("distinct_2", 0):.4f}
vs human {report.get("human", {}).get("distinct_2", 0):.4f}; outcomes {report.get("outcomes")}.

## Certificate

{gates_table(certificate)}

The full certificate with provenance (dvc.lock hashes, sampling settings, seeds, package
versions) is in `certificate.json`; the recipe is in `recipe.yaml`.

## Use

```python
from datasets import load_dataset
ds = load_dataset("{recipe.publish.repo_id or "ORG/NAME"}")
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")
