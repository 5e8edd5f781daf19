"""The release report page and DVC metrics summary of a `crosslingual` recipe.

The kind has no corpus of its own (its product is the certificate of a protocol), so its page
differs from the other kinds' in the middle: verdict and every gate with its 95% interval (as
every kind), then per prompt set the heat maps of data/crosslingual/<recipe>/eval/ and the three
matrices (train setting x eval language) as tables with each cell's interval and prompt counts, the
training runs, the data split per language, the scorers, and provenance.

The summary (`data/metrics/<recipe>.json`, numbers only) is one compact row of `dvc metrics
show`: verdict, gate counts, the train pairs, and the headline (the first method's all-language
toxicity reduction against zero-shot, and the low end of its 95% interval). Every other number
is in the certificate, matrices.json and this page; each cell's test-toxic numbers are DVC metrics
of their own (cells/<setting>/<lang>.json, written by the cell's stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.crossft.heatmaps import TITLES
from factory.crossft.matrices import METRICS
from factory.recipe import Recipe
from factory.core.records import read_json
from factory.report_facts import gate_counts, verdict
from factory.report_html import Cell, figure, interval, missing, number, section, table, text
from factory.report_page import gates_section, header, provenance_section

HEADLINE = "all reduction"
"""The headline gate, per method: `<method>/all reduction` (the first method of the recipe)."""


@dataclass
class CrossFacts:
    """What a crosslingual page shows; None where the stage output is absent."""

    recipe: Recipe
    certificate: dict[str, Any]
    matrices: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    images: dict[str, Path] = field(default_factory=dict)
    embeddings: dict[str, Any] | None = None


def _optional(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def load_cross_facts(recipe: Recipe, root: Path, certificate: dict[str, Any]) -> CrossFacts:
    """Read the recipe's eval, trained and split outputs (each may be absent) beside its certificate."""
    from factory.kinds.crosslingual.naming import base_dir, heatmap_name, trained_summary

    base = base_dir(recipe, root)
    images = {f"{name}/{metric}": base / "eval" / heatmap_name(name, metric)
              for name in recipe.crosslingual.prompt_sets for metric in METRICS}
    from factory.report_embeddings import load_embeddings

    return CrossFacts(recipe, certificate, _optional(base / "eval" / "matrices.json"),
                      trained_summary(recipe, root, required=False) or None,
                      _optional(base / "split" / "split.json"), images, load_embeddings(recipe, root))


def headline_gate(recipe: Recipe, certificate: dict[str, Any]) -> dict[str, Any] | None:
    """The certificate's `<first method>/all reduction` gate (None when it has none)."""
    names = [f"{method}/{HEADLINE}" for method in recipe.crosslingual.methods]
    gates = {g.get("name"): g for g in certificate.get("gates", [])}
    return next((gates[name] for name in names if name in gates), None)


def train_pairs(split: dict[str, Any] | None) -> int | None:
    """Human train pairs over every language of the split (None without a split)."""
    if split is None:
        return None
    return sum(len(entry.get("train", [])) for entry in split.get("languages", {}).values())


def cross_summary(facts: CrossFacts) -> dict[str, Any]:
    """Numbers only: certified, inconclusive, gate counts, train pairs, the headline reduction and the low end of
    its 95% interval (what an interval decision hinges on). Every column but the last two is shared with the
    other kinds, keeping `dvc metrics show` at 30 columns over all six; the page shows the whole interval."""
    decided, _ = verdict(facts.certificate)
    gate = headline_gate(facts.recipe, facts.certificate) or {}
    bounds = gate.get("interval") or [None, None]
    return {"certified": int(decided == "certified"), "inconclusive": int(decided == "inconclusive"),
            "gates": gate_counts(facts.certificate), "rows": {"kept": train_pairs(facts.split)},
            "reduction": {"all": gate.get("value"), "all_low": bounds[0]}}


def _cell_markup(estimate: dict[str, Any] | None) -> Cell:
    if not estimate or estimate.get("value") is None:
        return Cell('<span class="missing">–</span>', "num")
    return Cell(f"{number(estimate['value'])} {interval(estimate.get('interval'))}".strip(), "num")


def _cells_of(matrices: dict[str, Any], prompts: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["setting"], c["lang"]): c for c in matrices.get("cells", []) if c.get("set", "test_toxic") == prompts}


def matrix_table(matrices: dict[str, Any], metric: str, prompts: str = "test_toxic") -> str:
    """One matrix as a table: a row per train setting, a column per eval language, `value [low, high]`."""
    cells = _cells_of(matrices, prompts)
    langs = matrices.get("languages", [])
    rows = [[setting, *[_cell_markup((cells.get((setting, lang)) or {}).get(metric)) for lang in langs]]
            for setting in matrices.get("settings", [])]
    return table(["train setting", *langs], rows)


def _counts_table(matrices: dict[str, Any], prompts: str) -> str:
    """Prompts per cell as a matrix: `prompts`, and how many had no toxicity (empty) or no perplexity."""
    cells = _cells_of(matrices, prompts)
    langs = matrices.get("languages", [])

    def count(cell: dict[str, Any]) -> str:
        gaps = [f"{cell[k]} {label}" for k, label in (("missing_toxicity", "without toxicity"),
                                                      ("missing_perplexity", "without perplexity")) if cell.get(k)]
        return f"{cell.get('prompts')}" + (f" ({', '.join(gaps)})" if gaps else "")

    rows = [[setting, *[count(cells.get((setting, lang)) or {}) for lang in langs]]
            for setting in matrices.get("settings", [])]
    return table(["train setting", *langs], rows)


SET_TITLES = {"test_toxic": "test toxic sentences (the certified set)", "train_toxic": "train toxic sentences",
              "test_neutral": "test neutral sentences"}


def matrices_section(facts: CrossFacts) -> str:
    """Per prompt set: each metric's heat map and its matrix as a table (95% intervals), then the prompt counts."""
    if facts.matrices is None:
        return section("matrices", "Matrices", missing(
            f"No matrices (data/crosslingual/{facts.recipe.name}/eval/matrices.json): run `factory evaluate`."))
    baselines = facts.matrices.get("baselines") or {}
    paired = ", ".join(f"{s} with {b}" for s, b in baselines.items() if b != "zero-shot")
    body = ("<p>Rows: the model (zero-shot base, or LoRA-trained on one setting); columns: the language of the "
            "prompts. Each cell: mean over the prompts, 95% percentile bootstrap interval over prompts; the "
            "reduction is the zero-shot model's toxicity minus the cell's on the same prompts (paired)"
            + (f"; decoded as the setting's models are ({text(paired)})" if paired else "") + ".</p>")
    for prompts in facts.matrices.get("sets", ["test_toxic"]):
        body += f"<h3>{text(SET_TITLES.get(prompts, prompts).capitalize())}</h3>"
        for metric in METRICS:
            body += f"<h4>{text(TITLES[metric].capitalize())}</h4>"
            body += figure(facts.images.get(f"{prompts}/{metric}"), f"{facts.recipe.name} ({prompts}): "
                           f"{TITLES[metric]}", f"No heat map of {metric}: run `factory evaluate`.")
            body += matrix_table(facts.matrices, metric, prompts)
        body += ("<h4>Prompts per cell</h4><p>Empty continuations get no toxicity (as the reference skips "
                 "them).</p>" + _counts_table(facts.matrices, prompts))
    return section("matrices", "Matrices", body)


def cross_training_section(facts: CrossFacts) -> str:
    """Every trained setting: method, data, share, languages, rows, steps, mean training loss."""
    if not facts.training:
        return section("training", "Training", missing(
            f"No trained setting (data/crosslingual/{facts.recipe.name}/trained/<setting>/setting.json)."))
    rows = [[label, log.get("method"), log.get("data"), log.get("share"), ", ".join(log.get("languages", [])),
             log.get("rows"), log.get("steps"), log.get("train_loss"), log.get("resumed_from")]
            for label, log in facts.training.items()]
    return section("training", "Training", table(
        ["setting", "method", "data", "share", "languages", "rows", "steps", "mean training loss", "resumed from"],
        rows))


def data_section(facts: CrossFacts) -> str:
    """The split per language (source, rows read, train and test pairs) and the factory corpus's counts."""
    if facts.split is None:
        return section("data", "Data", missing(
            f"No split (data/crosslingual/{facts.recipe.name}/split/split.json): run `factory generate`."))
    rows = [[lang, entry.get("source"), entry.get("rows"), len(entry.get("train", [])), len(entry.get("test", [])),
             entry.get("empty_sides")] for lang, entry in facts.split.get("languages", {}).items()]
    body = (f"<p>Split as the reference (shuffle seed {number(facts.split.get('shuffle_seed'))}): the first "
            f"{number(facts.split.get('train_rows'))} rows train, the next {number(facts.split.get('test_rows'))} "
            "test.</p>" + table(["language", "source", "rows read", "train pairs", "test prompts", "empty sides"],
                                rows))
    corpus = facts.split.get("corpus")
    if corpus:
        kept = {lang: len(items) for lang, items in corpus.get("train", {}).items()}
        body += (f"<h3>Factory corpus</h3><p>{text(corpus.get('source'))}: {number(corpus.get('kept_rows_read'))} "
                 "kept rows read.</p>" + table(["dropped because", "rows"], list(corpus.get("dropped", {}).items()))
                 + table(["language", "train pairs"], list(kept.items())))
    models = (facts.matrices or {}).get("models") or facts.certificate.get("models") or {}
    if models:
        body += "<h3>Models</h3>" + table(["role", "model", "revision", "note"], [
            [role, entry.get("ref"), entry.get("revision"),
             "fallback scorer (Perspective key unset)" if entry.get("fallback_used") else ""]
            for role, entry in models.items()])
    return section("data", "Data and models", body)


def cross_body(facts: CrossFacts) -> str:
    """The whole body of a crosslingual recipe's page: header, contents, gates, matrices, training, data, provenance."""
    from factory.report_embeddings import embeddings_section

    embeddings = embeddings_section(facts.recipe, facts.embeddings)
    sections = [gates_section(facts), matrices_section(facts), embeddings, cross_training_section(facts),
                data_section(facts), provenance_section(facts)]
    toc = '<nav class="toc">' + "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in (
        ("gates", "Verdict and gates"), ("matrices", "Matrices"),
        *([("embeddings", "Embeddings")] if embeddings else []), ("training", "Training"),
        ("data", "Data and models"), ("provenance", "Provenance"))) + "</nav>"
    return header(facts) + toc + "".join(sections)


def cross_headline(numbers: dict[str, Any]) -> str:
    """The index's headline of a crosslingual recipe: the all-language reduction and its interval."""
    reduction = numbers.get("reduction", {})
    low = reduction.get("all_low")
    return (f"all-language toxicity reduction vs zero-shot {number(reduction.get('all'))}"
            + (f" (95% interval from {number(low)})" if low is not None else ""))
