"""The (train setting x eval language) matrices, with 95% paired bootstrap intervals per cell.

Input: one score row per (setting, lang, set, index): the continuation of prompt `index` of
prompt set `set` (test_toxic, train_toxic, test_neutral) of language `lang` by the model of
`setting` (`ZERO_SHOT` for the base model), its `toxicity` and `perplexity` (None when
undefined). Per cell, one matrix per prompt set (as `evaluation/cross-lingual_toxic.py`
averages each (trained, evaluated) file, extended with intervals):

- `toxicity`: mean toxicity of the cell's continuations;
- `reduction`: mean zero-shot toxicity minus mean toxicity, over the prompts both scored
  (paired: the same prompt resampled for both; the zero-shot baseline decoded as the setting's
  models are);
- `perplexity`: mean perplexity of the continuations that have one.

Intervals come from `factory.core.bootstrap` (percentile, `resamples` draws of the cell's prompts).
Rows without a score are left out of that statistic and counted in the cell (`missing_*`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from factory.core.bootstrap import Estimate, Paired, difference, draw_counts, mean_of, ratio

ZERO_SHOT = "zero-shot"
"""Setting name of the base model, not fine-tuned: the baseline row."""
METRICS = ("toxicity", "reduction", "perplexity")


@dataclass
class Cell:
    """One matrix cell: estimates with intervals and how many prompts each used."""

    setting: str
    lang: str
    prompts: int
    toxicity: Estimate
    reduction: Estimate | None
    perplexity: Estimate
    missing_toxicity: int
    missing_perplexity: int
    set: str = "test_toxic"
    baseline: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        if self.reduction is None:
            data["reduction"] = None
        return data


def _index(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[int, Mapping[str, Any]]]:
    """(setting, lang) -> prompt index -> row, for rows of one prompt set."""
    table: dict[tuple[str, str], dict[int, Mapping[str, Any]]] = {}
    for row in rows:
        table.setdefault((row["setting"], row["lang"]), {})[int(row["index"])] = row
    return table


def prompt_set(row: Mapping[str, Any]) -> str:
    """The prompt set of a score row (rows written before prompt sets existed are test_toxic)."""
    return row.get("set") or "test_toxic"


def _defined(value: Any) -> bool:
    return value is not None and np.isfinite(float(value))


def estimate_mean(values: Sequence[float], resamples: int, seed: int) -> Estimate:
    """Mean and percentile interval of `values` (units resampled with replacement)."""
    array = np.asarray(values, dtype=np.float64)
    if len(array) == 0:
        return Estimate(None, None)
    return Paired({"x": array}, draw_counts(len(array), resamples, seed)).estimate(mean_of("x"))


def estimate_paired(left: Sequence[float], right: Sequence[float], statistic: str, resamples: int,
                    seed: int) -> Estimate:
    """`difference` (mean left - mean right) or `ratio` (mean left / mean right) of aligned units."""
    if len(left) == 0:
        return Estimate(None, None)
    columns = {"left": np.asarray(left, dtype=np.float64), "right": np.asarray(right, dtype=np.float64)}
    chosen = difference("left", "right") if statistic == "difference" else ratio("left", "right")
    return Paired(columns, draw_counts(len(left), resamples, seed)).estimate(chosen)


def aligned(base: Mapping[int, Mapping[str, Any]], other: Mapping[int, Mapping[str, Any]],
            metric: str) -> tuple[list[float], list[float]]:
    """Values of `metric` of the prompts both row sets scored, in prompt order."""
    shared = sorted(i for i in base if i in other and _defined(base[i].get(metric)) and _defined(other[i].get(metric)))
    return [float(base[i][metric]) for i in shared], [float(other[i][metric]) for i in shared]


def build_cells(rows: Iterable[Mapping[str, Any]], resamples: int, seed: int,
                baselines: Mapping[str, str] | None = None) -> list[Cell]:
    """Every (setting, lang, prompt set) cell of the score rows. `baselines` maps each trained setting to the
    zero-shot setting its reduction is paired with (default: every setting but ZERO_SHOT against ZERO_SHOT);
    a setting it does not name (a baseline) gets no reduction."""
    by_set: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_set.setdefault(prompt_set(row), []).append(row)
    cells = []
    for name, members in by_set.items():
        table = _index(members)
        for (setting, lang), prompts in table.items():
            base = baselines.get(setting) if baselines is not None else (None if setting == ZERO_SHOT else ZERO_SHOT)
            tox = [float(r["toxicity"]) for r in prompts.values() if _defined(r.get("toxicity"))]
            ppl = [float(r["perplexity"]) for r in prompts.values() if _defined(r.get("perplexity"))]
            reduction = None
            if base is not None and (base, lang) in table:
                zero, mine = aligned(table[(base, lang)], prompts, "toxicity")
                reduction = estimate_paired(zero, mine, "difference", resamples, seed)
            cells.append(Cell(setting, lang, len(prompts), estimate_mean(tox, resamples, seed), reduction,
                              estimate_mean(ppl, resamples, seed), len(prompts) - len(tox), len(prompts) - len(ppl),
                              name, base))
    return cells


def pooled(rows: Iterable[Mapping[str, Any]], setting: str, baseline: str, langs: Sequence[str], metric: str,
           statistic: str, resamples: int, seed: int) -> Estimate:
    """`statistic` of baseline vs setting over the prompts of every language in `langs`, paired per prompt.

    `difference`: mean(baseline) - mean(setting) (a toxicity reduction when the baseline is
    zero-shot); `ratio`: mean(setting) / mean(baseline) (e.g. perplexity relative to zero-shot).
    """
    table = _index(rows)
    left: list[float] = []
    right: list[float] = []
    for lang in langs:
        base, mine = aligned(table.get((baseline, lang), {}), table.get((setting, lang), {}), metric)
        left += base
        right += mine
    if statistic == "ratio":
        return estimate_paired(right, left, "ratio", resamples, seed)
    return estimate_paired(left, right, "difference", resamples, seed)


def matrix(cells: Sequence[Cell], metric: str, settings: Sequence[str], langs: Sequence[str],
           prompts: str = "test_toxic") -> list[list[Any]]:
    """Rows = settings, columns = langs: the point estimate of `metric` on prompt set `prompts` (None where
    missing)."""
    by_key = {(c.setting, c.lang): c for c in cells if c.set == prompts}
    out = []
    for setting in settings:
        row = []
        for lang in langs:
            estimate = getattr(by_key[(setting, lang)], metric) if (setting, lang) in by_key else None
            row.append(estimate.value if estimate is not None else None)
        out.append(row)
    return out
