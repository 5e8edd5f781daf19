"""Recipe sections for the human data and the models by role."""

from __future__ import annotations

from pydantic import Field, model_validator

from factory.recipe.base import PERSPECTIVE, ExistingPathOrId, ModelSpec, Ratio, Section


class HumanData(Section):
    """The human data a recipe mixes with, takes few-shot examples from, and tests on."""

    source: ExistingPathOrId = Field(
        "seed",
        description="`seed` (the project's own seed corpus), a Hub dataset id such as "
        "`s-nlp/paradetox`, or a local TSV/CSV/Parquet file.",
    )
    hub_split: str = Field("train", description="Split to read when `source` is a Hub id.")
    toxic_column: str = Field("toxic", description="Column holding the toxic side.")
    neutral_columns: list[str] = Field(
        default_factory=lambda: ["neutral"],
        description="Columns holding neutral paraphrases; each non-empty one makes a pair "
        "(ParaDetox: neutral1, neutral2, neutral3).",
    )
    lang: str = Field("en", description="ISO 639-1 language code of the data.")
    test_fraction: Ratio = Field(
        0.2, description="Share of toxic sentences held out as the test split "
        "(all paraphrases of one toxic sentence stay together)."
    )
    max_rows: int | None = Field(
        None, ge=1, description="Read at most this many pairs (after a seeded shuffle); `--limit` caps it further."
    )
    max_malformed_share: Ratio = Field(
        0.01,
        description="Largest share of the source's data lines (rows for Parquet/Hub) that may be malformed "
        "(wrong number of fields, broken quoting, a quoted cell that swallowed the rows after it) before ingest "
        "fails; malformed rows under it are skipped and counted in data/human/<recipe>/report.json.",
    )


class Models(Section):
    """Models by role (`ModelSpec`): a Hub id, a local folder, `zoo:NAME`, `package:NAME`, or `perspective:...`.

    `perspective:ATTRIBUTE` (the Perspective API) is a toxicity scorer, allowed for `toxicity` only.
    """

    generator: ModelSpec | None = Field(None, description="Instruction LM that rewrites, translates or self-generates.")
    toxicity: ModelSpec = Field(
        ModelSpec(ref="package:profanity-check"),
        description="Toxicity classifier: STA = 1 - P(toxic); or perspective:TOXICITY (the Perspective API).",
    )
    similarity: ModelSpec = Field(
        ModelSpec(ref="package:all-minilm-l6-v2"), description="Sentence-embedding model for SIM (cosine)."
    )
    fluency: ModelSpec = Field(
        ModelSpec(ref="zoo:fluency"), description="Acceptability classifier: FL = P(acceptable)."
    )
    detoxifier: ModelSpec = Field(
        ModelSpec(ref="zoo:seq2seq"), description="Seq2seq model fine-tuned as the reference detoxifier."
    )

    @model_validator(mode="after")
    def _perspective_scores_toxicity_only(self) -> "Models":
        for role, spec in self:
            if role != "toxicity" and spec is not None and spec.ref.startswith(PERSPECTIVE):
                raise ValueError(f"{role}: {spec.ref} is a toxicity scorer (Perspective API), usable as toxicity only")
        return self
