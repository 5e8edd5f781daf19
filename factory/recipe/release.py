"""Recipe sections for certification gates and Hub publishing."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from factory.recipe.base import Ratio, Section
from factory.recipe.unread import RejectsUnread

HUB_LICENSES = (
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0",
    "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0",
    "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "cdla-sharing-1.0",
    "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1",
    "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "h-research",
    "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr", "mpl-2.0", "odc-by", "odbl", "openmdw-1.0",
    "openmdw-1.1", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr",
    "deepfloyd-if-license", "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1", "llama3.2",
    "llama3.3", "llama4", "grok2-community", "gemma", "unknown", "other",
)
"""Licence ids the Hub accepts in a card (https://huggingface.co/docs/hub/repositories-licenses, 2026)."""


def _hub_license(value: str) -> str:
    if value not in HUB_LICENSES:
        raise ValueError(f"{value!r} is not a Hub licence id (see https://huggingface.co/docs/hub/"
                         "repositories-licenses; use `other` and explain it in publish.license_note)")
    return value


HubLicense = Annotated[str, AfterValidator(_hub_license),
                       WithJsonSchema({"type": "string", "enum": list(HUB_LICENSES)})]
"""A licence id from the Hub's list."""


def repo_id_problem(repo_id: str) -> str | None:
    """Why `repo_id` is not a Hub repo id ORG/NAME (None when it is), by huggingface_hub's own rules
    (`validate_repo_id`: letters, digits, `-`, `_`, `.`, no `--` or `..`, at most 96 characters)
    plus exactly one `/` and ASCII only."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_id.count("/") != 1 or not repo_id.isascii():
        return f"{repo_id!r} is not ORG/NAME (ASCII letters, digits, '-', '_' or '.' on each side of one '/')"
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        return str(error)
    return None


PAIR_GATES = ("min_reference_margin", "min_j_ratio", "max_contamination", "max_near_dup_rate", "max_refusal_rate",
              "max_copy_rate", "min_distinct2_ratio", "min_rows", "min_test_rows")
"""`certify` gates of the pair kinds (toxify, detoxify, translate)."""
QUALITY_FLOORS = ("min_sim_ratio", "min_fl_ratio", "min_sta_ratio", "min_toxicity_ratio")
"""`certify` quality floors of toxify and detoxify (`factory.certify_floors`)."""


class CertifyStatistics(RejectsUnread, Section):
    """How every kind decides its gates, and its per-language row gate (the LM kinds' `certify`).

    The statistics settings (`decision`, `bootstrap_resamples`, `bootstrap_seed`) apply to
    every kind; the LM kinds' own gates are `lm_certify`.
    """

    UNREAD: ClassVar[dict[str, str]] = {
        name: "not read by kinds distill and selfgen (their gates are lm_certify)"
        for name in (*PAIR_GATES, *QUALITY_FLOORS)
    }

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
    min_rows_per_language: int = Field(1, ge=0, description="Kept synthetic rows in each language of the release, "
                                                            "at least.")


class PairCertify(CertifyStatistics):
    """Gates of the pair kinds (translate's `certify`; toxify and detoxify add quality floors)."""

    UNREAD: ClassVar[dict[str, str]] = {
        name: "not read by kind translate (its quality gates are translate.gates)"
        for name in QUALITY_FLOORS
    }

    min_reference_margin: float = Field(
        0.01,
        ge=0,
        description="Pair kinds: J of the human-data detoxifier (ratio 0) - J of copying the input (identity), "
        "at least; below it the test cannot tell good data from bad and the verdict is INCONCLUSIVE.",
    )
    min_j_ratio: Ratio = Field(0.7, description="J of the certified mix / J of the human-only detoxifier, at least.")
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
    min_test_rows: int = Field(1, ge=0, description="Human test rows, at least.")


class Certify(PairCertify):
    """Gates a release must pass; each is written to certificate.json with value, 95% interval and threshold.

    toxify and detoxify: the pair gates, plus quality floors on the synthetic side.
    """

    UNREAD: ClassVar[dict[str, str]] = {}

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


class Publish(Section):
    """Where and how a certified release is pushed to the Hugging Face Hub."""

    repo_id: str | None = Field(None, description="Hub dataset repo ORG/NAME (the CLI's --repo-id wins).")
    private: bool = Field(True, description="Create the repo private (the CLI's --public overrides).")
    license: HubLicense = Field("apache-2.0", description="Hub licence id the release is published under (first "
                                "on the card).")
    human_license: HubLicense | None = Field(None, description="Hub licence id of the human data (`human.source`, "
                                             "and `translate.parallel`) whose text pair releases carry; null = unknown "
                                             "(the card then lists `other` and says so).")
    generator_license: HubLicense | None = Field(None, description="Hub licence id of `models.generator`, whose "
                                                 "outputs the release carries (some model licences cover outputs); "
                                                 "null = unknown (the card then lists `other` and says so).")
    license_note: str = Field("", description="What the card says about the licences; required when one is `other`.")
    pretty_name: str | None = Field(None, description="Human-readable dataset name on the card.")
    tags: list[str] = Field(default_factory=list, description="Extra tags (not-for-all-audiences is always added).")
    shard_rows: int = Field(100_000, ge=1, description="Rows per Parquet shard.")

    @model_validator(mode="after")
    def _other_is_explained(self) -> "Publish":
        given = {"license": self.license, "human_license": self.human_license,
                 "generator_license": self.generator_license}
        named_other = [name for name, value in given.items() if value == "other"]
        if named_other and not self.license_note.strip():
            raise ValueError(f"license_note is empty: say which licence {', '.join(named_other)} `other` is")
        return self

    @field_validator("repo_id")
    @classmethod
    def _hub_repo_id(cls, value: str | None) -> str | None:
        problem = None if value is None else repo_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value
