"""Quality floors on the synthetic side itself, and diversity measured above them (kinds toxify, detoxify).

The evaluate stage scores the kept synthetic pairs and the human train pairs with the same
scorers as J (`factory.evaluate.corpus`): SIM of a pair's two sides, STA (1 - P(toxic))
and FL (P(acceptable)) of the side the generator wrote (the same side of the human pairs).
Each floor gate is the mean over the kept synthetic rows / the mean over the human pairs,
with a 95% bootstrap interval (the two samples resampled independently):

- `sim_ratio` >= `certify.min_sim_ratio`: the rewrite keeps the meaning as well as a human's.
- `fl_ratio` >= `certify.min_fl_ratio`: it is as fluent.
- detoxify: `sta_ratio` >= `certify.min_sta_ratio`: the synthetic neutral side is as non-toxic.
- toxify: `toxicity_ratio` >= `certify.min_toxicity_ratio`: the synthetic toxic side is as
  toxic (toxicity = 1 - STA).

The diversity gate `distinct2_ratio` counts only rows above the floors, so noise cannot
score as diversity: a row (synthetic or human) is *above the floors* when its SIM is at
least `min_sim_ratio` x the human mean SIM and its FL at least `min_fl_ratio` x the human
mean FL. Distinct-2 grows as a corpus shrinks, so both sides are compared at the same size:
the larger set of rows above the floors is cut to the smaller one's size by a seeded
sample (`certify.bootstrap_seed`). The gate is distinct-2 of the synthetic side / that of
the human side; with no synthetic row above the floors it is 0, and with fewer than
`certify.min_rows` rows to compare it fails whatever its value (distinct-2 of a handful of
sentences is close to 1 on both sides and says nothing).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from factory.core import bootstrap
from factory.certify_evidence import CorpusSide
from factory.filter.diversity import distinct_n
from factory.core.gates import Gate, estimate_gate
from factory.recipe import Recipe

Floor = tuple[str, str, str]
"""(gate name, scored part, `certify` threshold field): `("sim_ratio", "SIM", "min_sim_ratio")`; each kind
with synthetic-side floors lists its own (`factory.kinds.rewrite.certification.FLOORS`)."""
WHAT = {"SIM": "SIM of the two sides", "FL": "FL of the synthetic side", "STA": "STA of the synthetic neutral side",
        "toxicity": "toxicity (1 - STA) of the synthetic toxic side"}
NO_SCORES = "no corpus scores (data/eval/<recipe>/corpus.parquet); re-run `factory evaluate`"


def _column(side: CorpusSide, part: str) -> np.ndarray:
    return 1.0 - side.scores["STA"] if part == "toxicity" else side.scores[part]


def floor_gates(recipe: Recipe, corpus: dict[str, CorpusSide] | None, floors: Sequence[Floor] = ()) -> list[Gate]:
    """The gates of `floors` (the recipe's kind's quality floors; none for kinds without)."""
    c = recipe.certify
    gates = []
    for name, part, field in floors:
        threshold = getattr(c, field)
        if corpus is None:
            gates.append(estimate_gate(name, bootstrap.Estimate(None, None), threshold, ">=", c.decision, NO_SCORES))
            continue
        synthetic, human = corpus["synthetic"], corpus["human"]
        estimate = bootstrap.independent({"s": _column(synthetic, part), "h": _column(human, part)},
                                         bootstrap.ratio("s", "h"), c.bootstrap_resamples, c.bootstrap_seed)
        note = (f"mean {WHAT[part]}, kept synthetic pairs / human train pairs "
                f"({len(synthetic.texts)} vs {len(human.texts)} rows)")
        gates.append(estimate_gate(name, estimate, threshold, ">=", c.decision, note))
    return gates


def above_floors(side: CorpusSide, sim_floor: float, fl_floor: float) -> np.ndarray:
    """Mask of the rows whose SIM and FL are at least the floors."""
    return (side.scores["SIM"] >= sim_floor) & (side.scores["FL"] >= fl_floor)


def _sample(texts: Sequence[str], size: int, rng: np.random.Generator) -> list[str]:
    if len(texts) <= size:
        return list(texts)
    return [texts[i] for i in sorted(rng.choice(len(texts), size=size, replace=False).tolist())]


def distinct2_gate(recipe: Recipe, corpus: dict[str, CorpusSide] | None) -> Gate:
    """distinct-2 of the synthetic side / the human side, rows above the floors, at equal size (module doc)."""
    c = recipe.certify
    if corpus is None or not len(corpus["human"].texts):
        return Gate("distinct2_ratio", None, c.min_distinct2_ratio, ">=", False, NO_SCORES)
    synthetic, human = corpus["synthetic"], corpus["human"]
    sim_floor = c.min_sim_ratio * float(human.scores["SIM"].mean())
    fl_floor = c.min_fl_ratio * float(human.scores["FL"].mean())
    kept = [[t for t, ok in zip(s.texts, above_floors(s, sim_floor, fl_floor)) if ok] for s in (synthetic, human)]
    size = min(len(kept[0]), len(kept[1]))
    rng = np.random.default_rng(c.bootstrap_seed)
    syn, hum = (distinct_n(_sample(texts, size, rng), 2) if size else 0.0 for texts in kept)
    value = syn / hum if hum else 0.0
    note = (f"distinct-2 of the synthetic side / the human side, rows with SIM >= {sim_floor:.3f} and FL >= "
            f"{fl_floor:.3f} only ({len(kept[0])} of {len(synthetic.texts)} synthetic, {len(kept[1])} of "
            f"{len(human.texts)} human rows), compared on {size} rows each")
    enough = size >= c.min_rows
    if not enough:
        note += f"; fewer than certify.min_rows = {c.min_rows}: too few to measure diversity"
    return Gate("distinct2_ratio", value, c.min_distinct2_ratio, ">=", enough and value >= c.min_distinct2_ratio, note)
