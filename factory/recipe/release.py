"""Recipe sections for certification gates and Hub publishing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from factory.recipe.base import Ratio, Section


class Certify(Section):
    """Gates a release must pass; each is written to certificate.json with value, 95% interval and threshold.

    The statistics settings (`decision`, `bootstrap_resamples`, `bootstrap_seed`) apply to
    every kind, the LM kinds included.
    """

    decision: Literal["interval", "point"] = Field(
        "interval",
        description="How gates on estimated values (J ratio, reference margin, quality floors, LM reductions) "
        "are decided: `interval` passes only when the whole 95% bootstrap interval is on the passing side of the "
        "threshold; `point` on the point estimate alone.",
    )
    bootstrap_resamples: int = Field(
        2000, ge=1000, description="Bootstrap resamples behind every 95% percentile interval, at least 1000."
    )
    bootstrap_seed: int = Field(
        0, description="Seed of the bootstrap resamples (and of the equal-size diversity sample)."
    )
    min_reference_margin: float = Field(
        0.01,
        ge=0,
        description="Pair kinds: J of the human-data detoxifier (ratio 0) - J of copying the input (identity), "
        "at least; below it the test cannot tell good data from bad and the verdict is INCONCLUSIVE.",
    )
    min_j_ratio: Ratio = Field(0.7, description="J of the certified mix / J of the human-only detoxifier, at least.")
    min_sim_ratio: float = Field(
        0.8,
        ge=0,
        description="toxify, detoxify: mean SIM of the kept synthetic pairs / of the human train pairs, at least.",
    )
    min_fl_ratio: float = Field(
        0.8,
        ge=0,
        description="toxify, detoxify: mean FL of the synthetic side / of the same side of the human pairs, at least.",
    )
    min_sta_ratio: float = Field(
        0.8, ge=0, description="detoxify: mean STA of the synthetic neutral side / of the human neutral side, at least."
    )
    min_toxicity_ratio: float = Field(
        0.8,
        ge=0,
        description="toxify: mean toxicity (1 - STA) of the synthetic toxic side / of the human toxic side, at least.",
    )
    max_contamination: int = Field(0, ge=0, description="Kept rows that near-duplicate a test row, at most.")
    max_near_dup_rate: Ratio = Field(0.5, description="Share of generated rows dropped as duplicates, at most.")
    max_refusal_rate: Ratio = Field(0.2, description="Share of generated rows that were refusals, at most.")
    max_copy_rate: Ratio = Field(0.3, description="Share of generated rows that copied the input, at most.")
    min_distinct2_ratio: Ratio = Field(
        0.6,
        description="distinct-2 of the synthetic side / that of the human side, at least; toxify and detoxify count "
        "only rows above the SIM and FL floors, compared at equal size (translate: not gated).",
    )
    min_rows: int = Field(
        1,
        ge=0,
        description="Kept synthetic rows, at least (toxify, detoxify: also the fewest rows above the quality floors "
        "that distinct2_ratio compares).",
    )
    min_rows_per_language: int = Field(1, ge=0, description="Kept synthetic rows in each language of the release, at least.")
    min_test_rows: int = Field(1, ge=0, description="Human test rows, at least.")


class Publish(Section):
    """Where and how a certified release is pushed to the Hugging Face Hub."""

    repo_id: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$", description="Hub dataset repo ORG/NAME (the CLI's --repo-id wins).")
    private: bool = Field(True, description="Create the repo private (the CLI's --public overrides).")
    license: str = Field("apache-2.0", description="Licence id on the card.")
    pretty_name: str | None = Field(None, description="Human-readable dataset name on the card.")
    tags: list[str] = Field(default_factory=list, description="Extra tags (not-for-all-audiences is always added).")
    shard_rows: int = Field(100_000, ge=1, description="Rows per Parquet shard.")
