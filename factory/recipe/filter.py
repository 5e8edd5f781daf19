"""Recipe section for the filter stage: exact dedupe, MinHash, decontamination, diversity."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from factory.recipe.base import ExistingPathOrId, Ratio, Section


class MinHashSettings(Section):
    """MinHash near-duplicate detection; bands x rows are chosen from the threshold."""

    enabled: bool = Field(True, description="Run near-duplicate detection.")
    threshold: Ratio = Field(0.7, description="Jaccard similarity at or above which two rows are near-duplicates.")
    num_perm: int = Field(128, ge=8, le=1024, description="Number of hash permutations.")
    shingle: Literal["word", "char"] = Field("word", description="Shingle by word n-grams or character n-grams.")
    ngram: int = Field(2, ge=1, le=16, description="Shingle length (words or characters).")
    false_positive_weight: Ratio = Field(
        0.1, description="Weight of false positives when choosing bands x rows "
        "(low: candidates are verified, so recall matters more)."
    )
    keep: Literal["first", "longest", "attribute"] = Field(
        "first", description="Which row of a near-duplicate cluster survives: first (input order), longest, "
        "or highest `keep_attribute`."
    )
    keep_attribute: str | None = Field(None, description="Attribute maximised when keep = attribute.")


class Diversity(Section):
    """Diversity report and optional diversity-aware selection."""

    select: bool = Field(False, description="Choose a lexically diverse subset (cluster cap + greedy unseen n-grams).")
    cluster_cap: int = Field(1, ge=1, description="Members kept per near-duplicate cluster when selecting.")
    target_rows: int | None = Field(None, ge=1, description="Stop selecting at this many rows.")
    target_distinct2: Ratio | None = Field(None, description="Stop selecting once distinct-2 would fall below this.")
    lexicon: ExistingPathOrId | None = Field(
        None, description="Text file of toxic terms (one per line) for the toxic-term statistics."
    )


class Filter(Section):
    """The filter stage: every decision is keep, or drop with a reason."""

    exact: bool = Field(
        True, description="Drop exact duplicates of normalised text (NFKC, case, whitespace, punctuation)."
    )
    minhash: MinHashSettings = Field(default_factory=MinHashSettings, description="Near-duplicate settings.")
    decontaminate: bool = Field(True, description="Drop rows that near-duplicate any row of the human test split.")
    diversity: Diversity = Field(default_factory=Diversity, description="Diversity report and selection.")
