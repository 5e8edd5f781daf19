"""The recipe of each kind family: the sections every kind reads (`Recipe`) plus only those its kinds read.

- rewrite (toxify, detoxify): `generate` (prompt, checks), `train`, `evaluate`, `certify` with
  quality floors, `abliterate`.
- lm (distill, selfgen): `lm_train`, `lm_evaluate`, `lm_certify`, `certify` statistics only;
  distill adds `distill` (it decodes with transformers, no `generate`), selfgen `generate`
  (no prompt or checks) and `selfgen`.
- translate: `generate` (no prompt or checks), `translate`, `grid`, `train`, `evaluate`,
  `certify` without quality floors.
- crosslingual: `crosslingual` (its data, training, continuation and gate settings).

What each kind reads was taken from the stages' code (`recipe.<section>` per kind). A section
of another family is refused with its path and why (`factory.recipe.unread`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from factory.recipe.abliterate import Abliterate
from factory.recipe.crosslingual import CrossLingual
from factory.recipe.generate import Generate, Generation
from factory.recipe.lm import Distill, LMCertify, LMEvaluate, LMTrain, SelfGen
from factory.recipe.release import Certify, PairCertify
from factory.recipe.schema import FAMILY_HOOKS, KIND_SECTIONS, Recipe
from factory.recipe.study import Evaluate, Train
from factory.recipe.translate import Grid, Translate, translate_problems


class RewriteRecipe(Recipe):
    """toxify and detoxify: an instruction LM rewrites one side of the human pairs."""

    kind: Literal["toxify", "detoxify"] = Field(description="Method: toxify or detoxify.")
    generate: Generate = Field(default_factory=Generate, description="Generation settings.")
    train: Train = Field(default_factory=Train, description="Reference detoxifier training.")
    evaluate: Evaluate = Field(default_factory=Evaluate, description="Evaluation settings.")
    certify: Certify = Field(default_factory=Certify, description="Certification gates.")
    abliterate: Abliterate | None = Field(None, description="Activation patching of the generator before `generate` "
                                                            "(`factory abliterate RECIPE`).")

    @model_validator(mode="after")
    def _pair_mix_has_human_baseline(self) -> RewriteRecipe:
        if 0.0 not in self.mix.ratios:
            raise ValueError("mix.ratios: include 0 (the human-data detoxifier the certificate compares with)")
        return self


class LMRecipe(Recipe):
    """distill and selfgen: free text that detoxifies the causal LMs fine-tuned on it."""

    kind: Literal["distill", "selfgen"] = Field(description="Method: distill or selfgen.")
    lm_train: LMTrain = Field(default_factory=LMTrain, description="Target LM fine-tuning.")
    lm_evaluate: LMEvaluate = Field(default_factory=LMEvaluate, description="LM toxicity evaluation.")
    lm_certify: LMCertify = Field(default_factory=LMCertify, description="LM certification gates.")

    @model_validator(mode="after")
    def _has_base_lm(self) -> LMRecipe:
        if self.models.generator is None:
            raise ValueError(f"models.generator: kind {self.kind} needs the base LM here")
        return self


class DistillRecipe(LMRecipe):
    """distill (UniDetox): text distilled from the base LM by contrastive decoding against a toxic copy."""

    kind: Literal["distill"] = Field(description="Method: distill.")
    distill: Distill = Field(description="UniDetox distillation settings.")


class SelfgenRecipe(LMRecipe):
    """selfgen (SGEAT): the base LM's own samples, the least toxic share kept."""

    kind: Literal["selfgen"] = Field(description="Method: selfgen.")
    generate: Generation = Field(default_factory=Generation, description="Generation settings (backend, sampling).")
    selfgen: SelfGen = Field(description="SGEAT self-generation settings.")

    @model_validator(mode="after")
    def _plain_prompt(self) -> SelfgenRecipe:
        if self.generate.backend == "openai" and self.generate.server.mode == "chat":
            raise ValueError("generate.server.mode: selfgen sends a plain BOS prompt; use completion")
        return self


class TranslateRecipe(Recipe):
    """translate: parallel pairs carried into other languages, with the cross-lingual grid."""

    kind: Literal["translate"] = Field(description="Method: translate.")
    generate: Generation = Field(default_factory=Generation, description="Generation settings (backend, sampling).")
    translate: Translate = Field(description="Translation settings.")
    grid: Grid = Field(description="Cross-lingual experiment grid.")
    train: Train = Field(default_factory=Train, description="Reference detoxifier training.")
    evaluate: Evaluate = Field(default_factory=Evaluate, description="Evaluation settings.")
    certify: PairCertify = Field(default_factory=PairCertify, description="Certification gates.")

    @model_validator(mode="after")
    def _translate_fits(self) -> TranslateRecipe:
        problems = [] if self.models.generator else ["models.generator: kind translate needs the translation LM here"]
        problems += translate_problems(self.human.lang, self.translate, self.grid)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class CrosslingualRecipe(Recipe):
    """crosslingual (Breaking mBad): LMs fine-tuned (SFT, DPO) per language, toxicity of their continuations in
    every language."""

    kind: Literal["crosslingual"] = Field(description="Method: crosslingual.")
    crosslingual: CrossLingual = Field(description="Cross-lingual SFT/DPO detoxification, Beniwal et al. 2025.")


FAMILIES: dict[str, type[Recipe]] = {
    "toxify": RewriteRecipe, "detoxify": RewriteRecipe, "distill": DistillRecipe, "selfgen": SelfgenRecipe,
    "translate": TranslateRecipe, "crosslingual": CrosslingualRecipe,
}
"""The recipe class of every kind."""

INSTEAD: dict[str, str] = {
    "train": "its training settings are lm_train", "evaluate": "its evaluation settings are lm_evaluate",
    "lm_train": "its training settings are train", "lm_evaluate": "its evaluation settings are evaluate",
    "lm_certify": "its gates are certify",
}
"""What a kind reads instead of a section of another family, where it has a counterpart."""


def unread_section(kind: str, section: str) -> str:
    """Why kind `kind` refuses the top-level `section`: `not read by kind distill (its training settings are ...)`."""
    if kind == "distill" and section == "generate":
        return "not read by kind distill (it decodes with transformers; its settings are distill)"
    owners = [k for k, family in FAMILIES.items() if section in family.model_fields]
    hint = INSTEAD.get(section) or f"only kind{'s' if len(owners) > 1 else ''} {' and '.join(owners)}"
    return f"not read by kind {kind} ({hint})"


def family_of(data: Any) -> type[Recipe]:
    """The recipe class for `data` by its `kind`; when it names none, a `ValidationError` at `kind` with every
    problem of the sections all kinds share."""
    if isinstance(data, Recipe):
        return type(data)
    kind = data.get("kind") if isinstance(data, dict) else None
    if isinstance(kind, str) and kind in FAMILIES:
        return FAMILIES[kind]
    if isinstance(data, dict):  # raises: `kind` is missing or unknown
        Recipe.__pydantic_validator__.validate_python({k: v for k, v in data.items() if k not in KIND_SECTIONS})
    if kind is None:
        error = InitErrorDetails(type="missing", loc=("kind",), input=data)
    else:
        expected = ", ".join(repr(k) for k in FAMILIES)
        error = InitErrorDetails(type="literal_error", loc=("kind",), input=kind, ctx={"expected": expected})
    raise ValidationError.from_exception_data("Recipe", [error])


def recipe_union_schema() -> dict[str, Any]:
    """JSON schema of a recipe: `kind` picks the schema of its family (if/then, so validators and editors
    report a problem at its field rather than "not valid under any of the given schemas")."""
    classes = list(dict.fromkeys(FAMILIES.values()))
    union = Union[tuple(classes)]  # noqa: UP007
    schema = TypeAdapter(Annotated[union, Field(discriminator="kind")]).json_schema()
    branches = [{"if": {"properties": {"kind": {"enum": [k for k, c in FAMILIES.items() if c is cls]}},
                        "required": ["kind"]},
                 "then": {"$ref": f"#/$defs/{cls.__name__}"}} for cls in classes]
    return {"type": "object", "required": ["kind"],
            "properties": {"kind": {"enum": list(FAMILIES), "description": "Method; it decides which sections the "
                                    "recipe may have."}},
            "allOf": branches, "$defs": schema["$defs"]}


def recipe_json_schema() -> dict[str, Any]:
    """The JSON schema of a recipe, for editors (yaml-language-server) and the docs: one branch per kind family."""
    schema = recipe_union_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Detox Factory recipe"
    schema["description"] = (Recipe.__doc__ or "").strip().splitlines()[0]
    return schema


FAMILY_HOOKS.update(family_of=family_of, unread_section=unread_section)
