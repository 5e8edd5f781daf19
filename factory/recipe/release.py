"""Recipe sections for certification gates and Hub publishing."""

from __future__ import annotations

from pydantic import Field, field_validator

from factory.recipe.base import Ratio, Section


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


class Certify(Section):
    """Gates a release must pass; each is written to certificate.json with value and threshold."""

    min_j_ratio: Ratio = Field(0.7, description="J of the certified mix / J of the human-only detoxifier, at least.")
    max_contamination: int = Field(0, ge=0, description="Kept rows that near-duplicate a test row, at most.")
    max_near_dup_rate: Ratio = Field(0.5, description="Share of generated rows dropped as duplicates, at most.")
    max_refusal_rate: Ratio = Field(0.2, description="Share of generated rows that were refusals, at most.")
    max_copy_rate: Ratio = Field(0.3, description="Share of generated rows that copied the input, at most.")
    min_distinct2_ratio: Ratio = Field(0.6, description="distinct-2 of the kept synthetic side / that of the human side, at least.")
    min_rows: int = Field(1, ge=0, description="Kept synthetic rows, at least.")
    min_rows_per_language: int = Field(1, ge=0, description="Kept synthetic rows in each language of the release, at least.")
    min_test_rows: int = Field(1, ge=0, description="Human test rows, at least.")


class Publish(Section):
    """Where and how a certified release is pushed to the Hugging Face Hub."""

    repo_id: str | None = Field(None, description="Hub dataset repo ORG/NAME (the CLI's --repo-id wins).")
    private: bool = Field(True, description="Create the repo private (the CLI's --public overrides).")
    license: str = Field("apache-2.0", description="Licence id on the card.")
    pretty_name: str | None = Field(None, description="Human-readable dataset name on the card.")
    tags: list[str] = Field(default_factory=list, description="Extra tags (not-for-all-audiences is always added).")
    shard_rows: int = Field(100_000, ge=1, description="Rows per Parquet shard.")

    @field_validator("repo_id")
    @classmethod
    def _hub_repo_id(cls, value: str | None) -> str | None:
        problem = None if value is None else repo_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value
