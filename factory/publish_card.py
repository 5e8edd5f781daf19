"""The Hub dataset card of a release: metadata, content warning, provenance, metrics."""

from __future__ import annotations

from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from factory.gates import format_interval, names_with, recorded_verdict
from factory.metrics import J_DEFINITION
from factory.recipe import Recipe

CONTENT_WARNING = (
    "> **Content warning.** This dataset contains toxic, offensive and insulting language, "
    "generated or collected to train and evaluate detoxification models. It is meant for "
    "research on making language models safer; do not use it to produce or spread abuse."
)

SCORE_MODES = {
    "soft": "STA and FL are soft scores: the classifiers' probabilities (STA = 1 - P(toxic), "
            "FL = P(acceptable)), not argmax decisions.",
    "argmax": "STA and FL are argmax decisions: STA = 1 when P(toxic) <= 0.5, FL = 1 when "
              "P(acceptable) >= 0.5, else 0; they are not probabilities.",
}

ROLE_USE = {
    "generator": "wrote the synthetic side",
    "toxicity": "STA (and the direction check of generation)",
    "similarity": "SIM (and the copy / meaning checks of generation)",
    "fluency": "FL",
    "detoxifier": "starting point of the reference detoxifiers",
}


def size_category(rows: int) -> str:
    """The Hub's size category for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(evaluation: dict[str, Any]) -> str:
    """Markdown table of every evaluated system (the mixing study and the identity baseline)."""
    keys = ["STA", "SIM", "FL", "J", "ChrF", "BLEU"]
    rows = [[name, s.get("train_rows", ""), *[s.get(k, "") for k in keys]]
            for name, s in evaluation.get("systems", {}).items()]
    return _table(["system", "train rows", *keys], rows)


def _gate_verdict(gate: dict[str, Any]) -> str:
    verdict = recorded_verdict(gate)
    return {"fail": "FAIL", "inconclusive": "INCONCLUSIVE"}.get(verdict, verdict)


def gates_table(certificate: dict[str, Any]) -> str:
    """Markdown table of the certificate's gates, with the 95% bootstrap interval of estimated values."""
    rows = [[g["name"], g["value"], format_interval(g.get("interval"), ".4f"), f"{g['op']} {g['threshold']}",
             _gate_verdict(g), g.get("note", "")] for g in certificate["gates"]]
    return _table(["gate", "value", "95% interval", "threshold", "verdict", "what"], rows)


def certification_line(certificate: dict[str, Any], profile: str) -> str:
    """CERTIFIED, NOT CERTIFIED or INCONCLUSIVE (with the reason), the profile, and how gates were decided."""
    verdict = certificate.get("verdict") or ("certified" if certificate["certified"] else "not_certified")
    label = {"certified": "CERTIFIED", "inconclusive": "INCONCLUSIVE"}.get(verdict, "NOT CERTIFIED")
    reason = f" ({certificate['reason']})" if verdict != "certified" and certificate.get("reason") else ""
    decision = certificate.get("statistics", {}).get("decision")
    how = {"interval": "; a gate on an estimate passes only when its whole 95% bootstrap interval does",
           "point": "; gates on estimates decided on the point estimate"}.get(decision, "")
    return f"**{label}**{reason} (profile `{profile}`){how}"


def models_table(recipe: Recipe, certificate: dict[str, Any]) -> str:
    """Markdown table naming the exact model of every role, its revision and scored label."""
    described = certificate.get("provenance", {}).get("models", {})
    rows = []
    for role, spec in recipe.models:
        if spec is None:
            continue
        info = described.get(role, {})
        revision = info.get("revision") or info.get("resolved_revision") or info.get("local_fingerprint") \
            or info.get("package_version") or "unpinned"
        label = "" if spec.label is None else spec.label
        rows.append([role, f"`{spec.ref}`", revision, label, ROLE_USE.get(role, "")])
    return _table(["role", "model", "revision", "scored label", "used for"], rows)


def card_metadata(recipe: Recipe, splits: dict[str, list[str]], total_rows: int, languages: list[str]) -> DatasetCardData:
    """The card's YAML header: licence, languages, tasks, tags, size and configs."""
    return DatasetCardData(
        license=recipe.publish.license,
        language=languages,
        task_categories=["text-generation"],
        tags=sorted({"not-for-all-audiences", "detoxification", "synthetic", recipe.kind, *recipe.publish.tags}),
        size_categories=[size_category(total_rows)],
        pretty_name=recipe.publish.pretty_name or recipe.name,
        configs=[{"config_name": "default", "data_files": [
            {"split": split, "path": f"data/{split}-*.parquet"} for split in splits]}],
    )


def forced_banner(certificate: dict[str, Any]) -> str:
    """The warning an uncertified release carries in its first lines."""
    if certificate.get("verdict") == "inconclusive":
        return (f"> **NOT CERTIFIED (INCONCLUSIVE).** Certification could not tell good data from bad: "
                f"{certificate.get('reason')}. This release was built with `--force`. Do not treat it as a "
                "certified Detox Factory release.\n")
    failed = ", ".join(f"`{name}`" for name in names_with(certificate, "fail"))
    inconclusive = ", ".join(f"`{name}`" for name in names_with(certificate, "inconclusive"))
    return (f"> **NOT CERTIFIED.** This release failed certification (gates: {failed}"
            f"{'; inconclusive: ' + inconclusive if inconclusive else ''}) and was "
            "built with `--force`. Do not treat it as a certified Detox Factory release.\n")


def build_card(recipe: Recipe, certificate: dict[str, Any], evaluation: dict[str, Any], report: dict[str, Any],
               splits: dict[str, list[str]], counts: dict[str, int], *, languages: list[str],
               forced: bool) -> DatasetCard:
    """Build the dataset card (YAML metadata + Markdown body)."""
    data = card_metadata(recipe, splits, sum(counts.values()), languages)
    prov = certificate["provenance"]
    scores = evaluation.get("scores", "soft")
    git = prov.get("git", {})
    body = f"""
# {recipe.publish.pretty_name or recipe.name}

{forced_banner(certificate) if forced else ""}
{CONTENT_WARNING}

{recipe.description or f"A `{recipe.kind}` corpus made by Detox Factory."}

- Certification: {certification_line(certificate, recipe.profile)}
- Rows: {counts.get("train", 0)} kept (`train`), {counts.get("dropped", 0)} dropped with reasons (`dropped`)
- Recipe: `{prov["recipe"]["name"]}` (sha256 `{prov["recipe"]["sha256"][:16]}`), kind `{recipe.kind}`, in `recipe.yaml`
- Code: git commit `{git.get("commit")}`{" (with uncommitted changes)" if git.get("dirty") else ""}

## Models

{models_table(recipe, certificate)}

## Metrics

{J_DEFINITION}. {SCORE_MODES.get(scores, scores)}
ChrF and BLEU (sacrebleu, 0-100) compare outputs with the human references of the held-out test split.

Mixing study: `ratio-r` is the reference detoxifier trained on a mix whose share `r` of rows is
synthetic (the total size held fixed, seeded); `ratio-0.00` is the human-data detoxifier of the
same run; `identity` copies the input.

{metrics_table(evaluation)}

Corpus: distinct-2 of the kept synthetic side {report.get("synthetic", {}).get("distinct_2", 0):.4f}
vs human {report.get("human", {}).get("distinct_2", 0):.4f}; outcomes {report.get("outcomes")}.

## Certificate

{gates_table(certificate)}

The full certificate with provenance (dvc.lock hashes, hashes of the inputs, sampling
settings, seeds, package versions) is in `certificate.json`; all metrics are in `metrics.json`.

## Use

```python
from datasets import load_dataset
ds = load_dataset("{recipe.publish.repo_id or "ORG/NAME"}")
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")
