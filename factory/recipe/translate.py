"""Recipe sections of the `translate` kind: the translation and the cross-lingual grid.

- `Translate` (Beniwal et al. 2025, "Breaking mBad"): carry parallel (toxic, neutral)
  pairs into other languages with an instruction LLM, both sides of each pair, keeping
  the pair id in `group` across languages; optionally also read human pairs that already
  exist in the target languages (multilingual ParaDetox). The generic `generate` section
  supplies the backend, `max_inputs` (source train pairs translated), `batch_size`,
  sampling and engine settings; it has no `prompt` or `checks` in this kind (the prompt is
  `translate.system`, the checks `translate.checks`).
- `Grid`: one reference detoxifier per train-language setting, each scored on every
  eval language with the multilingual joint score J = mean of STA * SIM * ChrF.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator

from factory.recipe.base import ExistingPathOrId, Ratio, Section
from factory.recipe.generate import OutputChecks

Language = Literal["am", "ar", "de", "en", "es", "hi", "ru", "uk", "zh"]
"""The nine languages (ISO 639-1) of multilingual ParaDetox and of the published grid."""

LANGUAGE_CODES: tuple[str, ...] = get_args(Language)

RowSelection = Literal["all", "human", "translated"]

DEFAULT_DPO_PROMPT = "Rewrite the following text in a neutral way: {text}"
"""The published DPO prompt (Beniwal et al. 2025); `{text}` is the toxic side."""


class TranslateChecks(OutputChecks):
    """Checks of every translated side; a failed check drops the pair with its reason.

    Order: empty, truncated, refusal, copy, wrong_script / mixed_script, wrong_language,
    meaning_lost, toxicity_lost, neutral_toxic. The side that failed is recorded in the
    row attribute `drop_side` (toxic, neutral or both).
    """

    language: bool = Field(True, description="Drop a side that py3langid (restricted to the nine languages) does not "
                                             "identify as the declared language (wrong_language).")
    min_language_confidence: Ratio = Field(0.0, description="Also wrong_language when py3langid's probability of "
                                                            "the declared language is below this.")
    script: bool = Field(True, description="Drop a side written mainly in another script (wrong_script) or mixing "
                                           "scripts (mixed_script).")
    min_script_share: Ratio = Field(0.7, description="Share of a side's letters that must be in the language's script; "
                                                     "below it (the script still the most frequent): mixed_script.")
    mixed_script_words: bool = Field(False, description="Also mixed_script when one word mixes letters of two scripts "
                                                        "(homoglyphs). Off by default: real Ukrainian text often types "
                                                        "a Latin i for the Cyrillic one.")
    reject_copies: bool = Field(
        True, description="Drop a translated side equal to its source after normalisation (copy)."
    )
    min_similarity: Ratio = Field(0.5, description="Cross-lingual cosine (models.similarity: LaBSE in full) of "
                                                   "source side and translated side below which: meaning_lost.")
    toxic_stays_toxic: bool = Field(
        True, description="Drop a pair whose translated toxic side is not toxic (toxicity_lost)."
    )
    neutral_stays_neutral: bool = Field(
        True, description="Drop a pair whose translated neutral side is toxic (neutral_toxic)."
    )
    human_rows: Literal["language", "all"] = Field(
        "language", description="Checks of the pairs read from `parallel` (human data, no source to compare): "
                                "language: empty, script and language ID only; all: also the two toxicity checks.")


class TranslateGates(Section):
    """Certification gates of a translate release, checked per language and over all languages.

    Computed on the final rows (after filter) of each target language; kept rows per
    language are gated by `certify.min_rows_per_language`.
    """

    min_test_rows_per_language: int = Field(1, ge=0, description="Kept test pairs in each target language, at least.")
    min_language_agreement: Ratio = Field(0.9, description="Share of sides (every row, kept or dropped) that language "
                                                           "ID assigns to the declared language, at least.")
    min_translation_similarity: Ratio = Field(0.7, description="Mean cross-lingual cosine of kept translations and "
                                                               "their sources, at least "
                                                               "(skipped without translations).")
    min_pair_similarity: Ratio = Field(
        0.5, description="Mean cosine of the toxic and neutral side of kept pairs, at least."
    )
    min_toxic_rate: Ratio = Field(0.8, description="Share of kept toxic sides the toxicity classifier scores toxic "
                                                   "(toxicity preserved), at least.")
    min_neutral_rate: Ratio = Field(0.9, description="Share of kept neutral sides scored non-toxic (toxicity removed), "
                                                     "at least.")


class Translate(Section):
    """Translation of (toxic, neutral) pairs into the target languages."""

    languages: list[Language] = Field(min_length=1, description="Target languages; the source language "
                                      "(human.lang) is kept as is and must not be listed.")
    corpus: ExistingPathOrId | None = Field(
        None, description="Translate the kept pairs of a factory-made corpus instead of the human train split: a "
                          "records Parquet file (data/filtered/<recipe>/rows.parquet) or a folder holding rows.parquet "
                          "or release shards data/train-*.parquet.")
    max_test_pairs: int | None = Field(None, ge=0, description="Translate at most this many human test pairs (the "
                                                               "multilingual test set of the grid); 0: none.")
    parallel: ExistingPathOrId | None = Field(
        None, description="Human pairs already in the target languages, read directly and only language-checked: "
                          "a folder of multilingual ParaDetox pair files <lang>_train_toxic.csv / "
                          "<lang>_train_neutral.csv (no header, row-aligned), `fixture` (the bundled tiny German and "
                          "Spanish pairs) or a Hub dataset with one split per language "
                          "(textdetox/multilingual_paradetox). Split into train/test by human.test_fraction.")
    parallel_columns: tuple[str, str] = Field(("toxic_sentence", "neutral_sentence"), strict=False,
                                              description="Toxic and neutral columns of a Hub `parallel` dataset.")
    parallel_max_pairs: int | None = Field(None, ge=1, description="Read at most this many `parallel` pairs per "
                                                                   "language (after a seeded shuffle).")
    system: str | None = Field(None, description="System prompt template with {source_language}, {target_language} "
                                                 "and {side_note}; default: factory.prompts_translate.DEFAULT_SYSTEM.")
    checks: TranslateChecks = Field(default_factory=TranslateChecks, description="Checks of the translated rows.")
    dpo_prompt: str = Field(DEFAULT_DPO_PROMPT, description="Prompt of the DPO export; {text} is the toxic side.")
    gates: TranslateGates = Field(default_factory=TranslateGates, description="Per-language certification gates.")

    @field_validator("languages")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each language may be listed once")
        return value

    @field_validator("system")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(source_language="", target_language="", side_note="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"unknown or malformed placeholder {exc} (allowed: {{source_language}}, "
                                 "{target_language}, {side_note})") from None
        return value

    @field_validator("dpo_prompt")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if "{text}" not in value:
            raise ValueError("must contain {text}, where the toxic side goes")
        return value


class Grid(Section):
    """The cross-lingual experiment grid: train-language settings x eval languages."""

    train: list[str] = Field(min_length=1, description="Train settings, one detoxifier each: a language, or "
                                                       "languages joined by + (en+de+es: multilingual training).")
    eval: list[Language] = Field(min_length=1, description="Languages every trained detoxifier is scored on.")
    train_rows: RowSelection = Field("all", description="Rows of a target language that train: all kept rows, only "
                                                        "human ones (from `parallel`) or only translations. The "
                                                        "source language always trains on the human train split.")
    test_rows: RowSelection = Field("all", description="Rows of a target language in its test set (same choices); the "
                                                       "source language is tested on the human test split.")
    max_train_rows: int | None = Field(None, ge=1, description="Training rows per language at most (seeded sample; "
                                                               "published: 400 pairs per language).")
    max_test_rows: int | None = Field(None, ge=1, description="Test inputs per language at most.")
    j: Literal["sta*sim*chrf"] = Field(
        "sta*sim*chrf", description="Multilingual J (TextDetox 2024): mean over test inputs of STA*SIM*ChrF; STA = "
                                    "1 - P(toxic) (models.toxicity), SIM = cosine of input and output "
                                    "(models.similarity), ChrF = sentence chrF against the references / 100.")

    @field_validator("train")
    @classmethod
    def _settings(cls, value: list[str]) -> list[str]:
        for setting in value:
            languages = setting.split("+")
            unknown = [lang for lang in languages if lang not in LANGUAGE_CODES]
            if unknown or len(set(languages)) != len(languages):
                raise ValueError(f"setting {setting!r}: use languages of {', '.join(LANGUAGE_CODES)} joined by +, "
                                 "each once")
        if len(set(value)) != len(value):
            raise ValueError("each setting may be listed once")
        return value

    @field_validator("eval")
    @classmethod
    def _unique_eval(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each language may be listed once")
        return value


def setting_languages(setting: str) -> list[str]:
    """The languages of a train setting (`en+de` -> [en, de])."""
    return setting.split("+")


def translate_problems(source_lang: str, translate: Translate, grid: Grid) -> list[str]:
    """Cross-section problems of a translate recipe (empty when consistent)."""
    problems = []
    if source_lang not in LANGUAGE_CODES:
        problems.append(f"human.lang: {source_lang!r} is not one of the nine languages {', '.join(LANGUAGE_CODES)}")
    if source_lang in translate.languages:
        problems.append(f"translate.languages: lists the source language {source_lang!r} (human.lang)")
    available = {source_lang, *translate.languages}
    for setting in grid.train:
        missing = [lang for lang in setting_languages(setting) if lang not in available]
        if missing:
            problems.append(f"grid.train: setting {setting!r} uses {', '.join(missing)}, not among human.lang and "
                            "translate.languages")
    missing = [lang for lang in grid.eval if lang not in available]
    if missing:
        problems.append(f"grid.eval: {', '.join(missing)} not among human.lang and translate.languages")
    return problems


class GridParams(Section):
    """params.yaml `grid`: the cross-lingual grids that `dvc repro` runs as DVC `matrix` stages.

    DVC expands its matrix from these lists, so they repeat the recipes' `grid.train` and
    `grid.eval`; `factory grid` refuses a setting or language a recipe does not list.
    An empty `recipes` list (DVC needs the key even then) runs no grid.
    """

    recipes: list[str] = Field(description="Translate recipes whose grid DVC runs; each also listed in `recipes`.")
    train: list[str] = Field(description="Train settings, as in each listed recipe's grid.train.")
    eval: list[str] = Field(description="Eval languages, as in each listed recipe's grid.eval.")
