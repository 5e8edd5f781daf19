"""Per-unit scores behind the statistical gates of pair kinds, read from the evaluate stage.

- `load_input_scores`: J of every evaluated system on every test input, from
  data/eval/<recipe>/rows.parquet. Each row there is one (system, test input): the system
  in `attributes.system`, the input in `toxic`, its STA, SIM, FL and J in `attributes`.
  The evaluation de-duplicates inputs, so an input appears once per system; the systems
  are aligned on the identity system's input order (every system must have exactly those
  inputs) and each system's mean J is checked against metrics.json.
- `load_corpus_scores`: STA, SIM and FL of the kept synthetic pairs and of the human train
  pairs, from data/eval/<recipe>/corpus.parquet (`factory.evaluate.corpus`).
- `paired_estimates`: the paired bootstrap over test inputs (`factory.core.bootstrap`) of J of
  every system, of the reference margin J(human data) - J(identity), and of the J ratio
  J(certified mix) / J(human data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factory.core import bootstrap
from factory.core.bootstrap import Estimate
from factory.core.errors import FactoryError
from factory.recipe import Recipe
from factory.core.records import read_records
from factory.core.layout import Layout

HUMAN, IDENTITY = "ratio-0.00", "identity"
PARTS = ("STA", "SIM", "FL")


@dataclass
class CorpusSide:
    """Per-row STA, SIM and FL of one side of the corpus (synthetic or human), and its scored texts."""

    scores: dict[str, np.ndarray]
    texts: list[str]


@dataclass
class Evidence:
    """What the statistical gates resample: per-input J by system, per-row corpus scores."""

    input_scores: dict[str, np.ndarray] | None = None
    corpus: dict[str, CorpusSide] | None = None

    @classmethod
    def load(cls, recipe: Recipe, root: Path, evaluation: dict[str, Any]) -> "Evidence":
        """The evidence of `recipe` under `root`; a missing file leaves its part `None`."""
        folder = Layout(root).evaluated(recipe.name)
        return cls(load_input_scores(folder / "rows.parquet", evaluation),
                   load_corpus_scores(folder / "corpus.parquet"))


def load_input_scores(path: Path, evaluation: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """J per test input of every system, aligned on one input order; `None` without the file."""
    if not path.is_file():
        return None
    by_system: dict[str, dict[str, float]] = {}
    for record in read_records(path):
        system = str(record.attributes.get("system"))
        scores = by_system.setdefault(system, {})
        if record.toxic in scores:
            raise FactoryError(f"{path}: system {system} has two rows for the test input {record.toxic!r}")
        scores[record.toxic or ""] = float(record.attributes["J"])
    if not by_system:
        return None
    inputs = list(by_system.get(IDENTITY) or next(iter(by_system.values())))
    aligned = {}
    for system, scores in by_system.items():
        if set(scores) != set(inputs):
            raise FactoryError(f"{path}: system {system} was scored on {len(scores)} test inputs, not on the "
                               f"{len(inputs)} of {IDENTITY}; re-run `factory evaluate`")
        aligned[system] = np.array([scores[i] for i in inputs], dtype=np.float64)
        reported = evaluation.get("systems", {}).get(system, {}).get("J")
        if reported is not None and abs(aligned[system].mean() - reported) > 1e-6:
            raise FactoryError(f"{path}: mean J of system {system} is {aligned[system].mean():.6f} but metrics.json "
                               f"says {reported:.6f}; the two files are from different runs, re-run `factory evaluate`")
    return aligned


def load_corpus_scores(path: Path) -> dict[str, CorpusSide] | None:
    """Per-row STA, SIM, FL and scored text of the `synthetic` and the `human` side; `None` without the file."""
    if not path.is_file():
        return None
    sides: dict[str, tuple[list[dict[str, Any]], list[str]]] = {"synthetic": ([], []), "human": ([], [])}
    for record in read_records(path):
        side = record.attributes.get("side")
        if side not in sides:
            raise FactoryError(f"{path}: row {record.id} has side {side!r}; expected synthetic or human")
        sides[side][0].append(record.attributes)
        sides[side][1].append(record.content())
    return {side: CorpusSide({p: np.array([float(a[p]) for a in rows], dtype=np.float64) for p in PARTS}, texts)
            for side, (rows, texts) in sides.items()}


def _counts(recipe: Recipe, units: int) -> np.ndarray:
    c = recipe.certify
    return bootstrap.draw_counts(units, c.bootstrap_resamples, c.bootstrap_seed)


def _without_interval(value: float | None) -> Estimate:
    return Estimate(value, None)


def paired_estimates(recipe: Recipe, evaluation: dict[str, Any], evidence: Evidence | None) -> dict[str, Any]:
    """Estimates of `J` (per system), `reference_margin` and `j_ratio`, paired over test inputs.

    Without per-input scores the point values come from metrics.json and have no interval.
    """
    systems = evaluation.get("systems", {})
    chosen = f"ratio-{recipe.mix.certified_ratio:.2f}"
    j = {name: s.get("J") for name, s in systems.items()}
    human, identity, certified = j.get(HUMAN), j.get(IDENTITY), j.get(chosen)
    scores = evidence.input_scores if evidence else None
    if not scores:
        return {"J": {name: _without_interval(value) for name, value in j.items()},
                "reference_margin": _without_interval(human - identity if None not in (human, identity) else None),
                "j_ratio": _without_interval(certified / human if certified is not None and human else None)}
    paired = bootstrap.Paired(scores, _counts(recipe, len(next(iter(scores.values())))))
    missing = Estimate(None, None)
    return {"J": {name: paired.estimate(bootstrap.mean_of(name)) for name in scores},
            "reference_margin": paired.estimate(bootstrap.difference(HUMAN, IDENTITY))
            if {HUMAN, IDENTITY} <= set(scores) else missing,
            "j_ratio": paired.estimate(bootstrap.ratio(chosen, HUMAN)) if {HUMAN, chosen} <= set(scores) else missing}
