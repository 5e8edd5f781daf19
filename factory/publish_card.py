"""The Hub dataset card of a release.

YAML header: licences, languages, source datasets, task, tags, size and the `configs` of the
published splits. Body: the LIMITED RUN and NOT CERTIFIED banners when they apply, the content
warning, the splits (an empty one named as such), every field with type and meaning, drop
reasons, an example row, data sources, licences, models, metrics, gates, use and citation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from huggingface_hub import DatasetCard, DatasetCardData

from factory.core import limits
from factory.fidelity import fidelity_section
from factory.core.gates import format_interval, names_with, recorded_verdict
from factory.kinds import kind_of
from factory.metrics import J_DEFINITION
from factory.metrics_lm import LM_DEFINITION
from factory.publish_fields import drop_reason_rows, example_row, field_rows
from factory.publish_sources import citations, license_ids, license_parts, source_datasets, source_lines
from factory.recipe import Recipe
from factory.core.records import Record

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

PAIR_KEYS = ("STA", "SIM", "FL", "J", "ChrF", "BLEU")
LM_KEYS = ("EMT", "TP", "combined_EMT", "combined_TP", "PPL", "distinct_2_per_prompt", "dist_2_ref")

SPLIT_MEANING = {"train": "kept rows: the corpus", "dropped": "rows a check or filter removed, with `drop_reason`"}

ROLE_USE = {
    "generator": "wrote the synthetic side",
    "toxicity": "STA (and the direction check of generation)",
    "similarity": "SIM (and the copy / meaning checks of generation)",
    "fluency": "FL",
    "detoxifier": "starting point of the reference detoxifiers",
}
LM_ROLE_USE = {
    "generator": "wrote the texts",
    "toxicity": "toxicity of the LMs' continuations (EMT, TP); selfgen: ranks the generated texts",
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
    """Markdown table of every evaluated system: the mixing study and the identity baseline (pair kinds),
    or base and detoxified LMs (LM kinds)."""
    systems = evaluation.get("systems", {})
    lm = evaluation.get("kind") == "lm"
    keys = [k for k in LM_KEYS if any(k in s for s in systems.values())] if lm else PAIR_KEYS
    sized = any("train_rows" in s for s in systems.values())
    rows = [[name, *([s.get("train_rows", "")] if sized else []), *[s.get(k, "") for k in keys]]
            for name, s in systems.items()]
    return _table(["system", *(["train rows"] if sized else []), *keys], rows)


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
    """Markdown table naming the exact model of every role the kind uses, its revision and scored label."""
    described = certificate.get("provenance", {}).get("models", {})
    lm_kind = kind_of(recipe).STUDY == "lm"
    uses = LM_ROLE_USE if lm_kind else ROLE_USE
    rows = []
    for role, spec in recipe.models:
        if spec is None or role not in uses:
            continue
        info = described.get(role, {})
        revision = info.get("revision") or info.get("resolved_revision") or info.get("local_fingerprint") \
            or info.get("package_version") or "unpinned"
        label = "" if spec.label is None else spec.label
        rows.append([role, f"`{spec.ref}`", revision, label, uses[role]])
    if lm_kind:
        extra = [("target", t, "fine-tuned on this corpus and evaluated against its base")
                 for t in recipe.lm_train.targets]
        extra.append(("perplexity", recipe.lm_evaluate.perplexity_model, "PPL of the continuations"))
        rows += [[role, f"`{spec.ref}`", spec.revision or "unpinned", "", use] for role, spec, use in extra]
    elif recipe.evaluate.similarity is not None:
        j_sim = recipe.evaluate.similarity
        rows.append(["J similarity", f"`{j_sim.ref}`", j_sim.revision or "unpinned", "",
                     "SIM of J (`evaluate.similarity`); `similarity` then serves the generation checks only"])
    return _table(["role", "model", "revision", "scored label", "used for"], rows)


@dataclass
class ReleaseFacts:
    """What the card describes: the recipe, its certificate, metrics and the files of the release."""

    recipe: Recipe
    certificate: dict[str, Any]
    evaluation: dict[str, Any]
    report: dict[str, Any]
    files: dict[str, list[str]]
    """Shard file names of every published (non-empty) split."""
    counts: dict[str, int]
    """Rows of every split, empty ones included."""
    languages: list[str]
    schema: pa.Schema
    example: Record | None
    drop_reasons: dict[str, int] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    """{plot name: PNG path in the release} of the report's plots (mixing or LM study, diversity, loss, heat map)."""

    @property
    def forced(self) -> bool:
        """True when the release is not certified (it was built with --force)."""
        return not self.certificate["certified"]


def card_metadata(facts: ReleaseFacts) -> DatasetCardData:
    """The card's YAML header: licences, languages, sources, tasks, tags, size and configs."""
    recipe = facts.recipe
    extra = {"source_datasets": source_datasets(recipe)} if source_datasets(recipe) else {}
    licenses = license_ids(recipe)
    return DatasetCardData(
        license=licenses[0] if len(licenses) == 1 else licenses,
        language=facts.languages,
        annotations_creators=["machine-generated"],
        task_categories=["text-generation"],
        tags=sorted({"not-for-all-audiences", "detoxification", "synthetic", recipe.kind, *recipe.publish.tags}),
        size_categories=[size_category(sum(facts.counts.values()))],
        pretty_name=recipe.publish.pretty_name or recipe.name,
        configs=[{"config_name": "default", "data_files": [
            {"split": split, "path": f"data/{split}-*.parquet"} for split in facts.files]}],
        **extra,
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


def limited_banner(certificate: dict[str, Any]) -> str:
    """The warning of a release whose inputs came from stages run with `--limit` ("" when none was)."""
    limited = limits.limited_stages(certificate)
    if not limited:
        return ""
    return (f"> **LIMITED RUN.** Stages of this release ran on a subset of the rows ({limits.describe(limited)}); "
            "its rows and numbers are a trial, not the recipe's whole release.\n")


def banners(facts: ReleaseFacts) -> str:
    """The LIMITED RUN and NOT CERTIFIED warnings that apply, each its own block quote."""
    shown = [limited_banner(facts.certificate), forced_banner(facts.certificate) if facts.forced else ""]
    return "".join(f"{banner}\n" for banner in shown if banner)


def splits_section(facts: ReleaseFacts) -> str:
    """Markdown table of the splits; an empty split is named and said to be left out."""
    rows = [[f"`{split}`", n, SPLIT_MEANING.get(split, "") if n else
             "empty: no file and no config entry (an empty split cannot be loaded)"]
            for split, n in facts.counts.items()]
    return _table(["split", "rows", "what"], rows)


def fields_section(facts: ReleaseFacts) -> str:
    """The data fields table, the drop reasons and the example row."""
    parts = [_table(["field", "type", "meaning"], field_rows(facts.schema))]
    if facts.drop_reasons:
        parts += ["### Drop reasons", _table(["drop_reason", "rows", "meaning"], drop_reason_rows(facts.drop_reasons))]
    if facts.example is not None:
        parts += ["### Example", "The first kept row (strings cut at 200 characters):",
                  f"```json\n{example_row(facts.example, facts.schema)}\n```"]
    return "\n\n".join(parts)


def license_section(recipe: Recipe) -> str:
    """Which licence covers what, and the recipe's note."""
    lines = [f"- `{license_id}`: {what}" for license_id, what in license_parts(recipe)]
    note = recipe.publish.license_note.strip()
    return "\n".join(lines) + (f"\n\n{note}" if note else "")


def metrics_section(evaluation: dict[str, Any], report: dict[str, Any]) -> str:
    """Definitions, the table of evaluated systems and the corpus figures."""
    if evaluation.get("kind") == "lm":
        intro = (f"{LM_DEFINITION}.\n\n`base/<model>` is the target LM as published; `<model>/ratio-r` is it "
                 "fine-tuned on this corpus (r = share of the training texts taken from it).")
    else:
        scores = evaluation.get("scores", "soft")
        intro = (f"{J_DEFINITION}. {SCORE_MODES.get(scores, scores)}\nChrF and BLEU (sacrebleu, 0-100) compare "
                 "outputs with the human references of the held-out test split.\n\nMixing study: `ratio-r` is the "
                 "reference detoxifier trained on a mix whose share `r` of rows is synthetic (the total size held "
                 "fixed, seeded); `ratio-0.00` is the human-data detoxifier of the same run; `identity` copies the "
                 "input.")
    corpus = (f"Corpus: distinct-2 of the kept synthetic side {report.get('synthetic', {}).get('distinct_2', 0):.4f}"
              f" vs human {report.get('human', {}).get('distinct_2', 0):.4f}; outcomes {report.get('outcomes')}.")
    return f"{intro}\n\n{metrics_table(evaluation)}\n\n{corpus}"


PLOT_CAPTIONS = {
    "mixing": "Mixing study: J, STA, SIM and FL of the reference detoxifier against the synthetic share of its "
              "training rows (95% intervals).",
    "lm": "Base vs detoxified target LMs: expected maximum toxicity, toxicity probability and perplexity.",
    "diversity": "Lexical diversity of the kept synthetic side against the human side.",
    "loss": "Training loss per step of every trained model.",
    "heatmap": "Cross-lingual grid: J of each train setting on each evaluation language.",
}
"""What each plot of the release shows (`ReleaseFacts.images`)."""


def plots_section(facts: ReleaseFacts) -> str:
    """The report's plots, embedded (the release carries them under images/), and where the full report is."""
    if not facts.images:
        return "No plots were made for this release (run the `plots` and `report` stages before publishing)."
    lines = [f"![{name}]({path})\n\n{PLOT_CAPTIONS.get(name, name)}" for name, path in facts.images.items()]
    return "\n\n".join(lines) + ("\n\nThe release report, with every gate, kept and dropped rows by reason and "
                                   "provenance, is `report.html` (opens offline).")


def build_card(facts: ReleaseFacts) -> DatasetCard:
    """Build the dataset card (YAML metadata + Markdown body)."""
    recipe, certificate = facts.recipe, facts.certificate
    prov = certificate["provenance"]
    git = prov.get("git", {})
    dropped = facts.counts.get("dropped", 0)
    bibtex = "\n\n".join(citations(recipe))
    body = f"""
# {recipe.publish.pretty_name or recipe.name}

{banners(facts)}{CONTENT_WARNING}

{recipe.description or f"A `{recipe.kind}` corpus made by Detox Factory."}

- Method: {kind_of(recipe).method(recipe).name}
- Certification: {certification_line(certificate, recipe.profile)}
- Rows: {facts.counts.get("train", 0)} kept (`train`), {dropped} dropped with reasons \
({"`dropped`" if dropped else "no row was dropped, so there is no `dropped` split"})
- Recipe: `{prov["recipe"]["name"]}` (sha256 `{prov["recipe"]["sha256"][:16]}`), kind `{recipe.kind}`, in `recipe.yaml`
- Code: git commit `{git.get("commit")}`{" (with uncommitted changes)" if git.get("dirty") else ""}

## Dataset structure

{splits_section(facts)}

### Data fields

{fields_section(facts)}

## Source data

{chr(10).join(source_lines(recipe))}

## Licences

{license_section(recipe)}

## Models

{models_table(recipe, certificate)}

## Metrics

{metrics_section(facts.evaluation, facts.report)}

## Plots

{plots_section(facts)}

## Fidelity to the reference

{fidelity_section(recipe, pairs=kind_of(recipe).PAIRS)}

## Certificate

{gates_table(certificate)}

The full certificate with provenance (dvc.lock hashes, hashes of the inputs, sampling
settings, seeds, package versions, the `--limit` of every stage) is in `certificate.json`;
all metrics are in `metrics.json`.

## Use

```python
from datasets import load_dataset
ds = load_dataset("{recipe.publish.repo_id or "ORG/NAME"}")
```

## Citation

If you use this release, cite the method it implements (and the human data it carries):

```bibtex
{bibtex}
```
"""
    return DatasetCard(f"---\n{card_metadata(facts).to_yaml()}\n---\n{body}")
