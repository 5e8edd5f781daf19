"""Recipe blocks naming texts outside the human data: one column of texts, or (toxic, neutral) pairs.

Both are read in stored order (`factory.text_sources`), from a Hub dataset split or a local
TSV/CSV/Parquet file, the way `human.source` is read.
"""

from __future__ import annotations

from pydantic import Field

from factory.recipe.base import ExistingPathOrId, Section


class TextSource(Section):
    """One column of texts, from a Hub dataset split or a local TSV/CSV/Parquet file, in stored order."""

    source: ExistingPathOrId = Field(description="Hub dataset id (`textdetox/multilingual_paradetox`) or a local "
                                                 "TSV/CSV/Parquet file.")
    hub_split: str = Field("train", description="Split to read when `source` is a Hub id.")
    column: str = Field(description="Column holding the texts; empty cells are skipped and counted.")


class PairSource(Section):
    """(toxic, neutral) pairs, from a Hub dataset split or a local TSV/CSV/Parquet file, in stored order."""

    source: ExistingPathOrId = Field(description="Hub dataset id (`textdetox/multilingual_paradetox`) or a local "
                                                 "TSV/CSV/Parquet file.")
    hub_split: str = Field("train", description="Split to read when `source` is a Hub id (PseudoParaDetox: `en`).")
    toxic_column: str = Field("toxic", description="Column holding the toxic side (multilingual ParaDetox: "
                                                   "`toxic_sentence`).")
    neutral_column: str = Field("neutral", description="Column holding the neutral side (multilingual ParaDetox: "
                                                       "`neutral_sentence`).")
