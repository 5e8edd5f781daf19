"""The top-level recipe: one section per stage, plus the JSON schema for editors."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from factory.recipe.abliterate import Abliterate, abliterate_problems
from factory.recipe.base import Section, Seed, name_model_roles
from factory.recipe.crosslingual import CrossLingual
from factory.recipe.data import HumanData, Models
from factory.recipe.engine import Engine, engine_problems
from factory.recipe.filter import Filter
from factory.recipe.generate import Generate
from factory.recipe.lm import LM_KINDS, Distill, LMCertify, LMEvaluate, LMTrain, SelfGen
from factory.recipe.release import Certify, Publish
from factory.recipe.study import Evaluate, Mix, Train
from factory.recipe.translate import Grid, Translate, translate_problems

RecipeKind = Literal["toxify", "detoxify", "distill", "selfgen", "translate", "crosslingual"]


class Recipe(Section):
    """One dataset release: what to generate, how to filter, mix, train, evaluate and certify it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Release name; also the folder name under data/*/.")
    kind: RecipeKind = Field(description="Method: toxify, detoxify, distill, selfgen, translate or crosslingual.")
    profile: Literal["tiny", "full"] = Field("tiny", description="tiny: offline zoo models on CPU; full: Hub models, published settings.")
    description: str = Field("", description="What this release is for; shown on the dataset card.")
    seed: Seed = Field(0, description="Seed of every random choice not seeded elsewhere (splits, mixes, training).")
    human: HumanData = Field(default_factory=HumanData, description="Human data: few-shot pool, mixing partner, test split.")
    models: Models = Field(default_factory=Models, description="Models by role.")
    generate: Generate = Field(default_factory=Generate, description="Generation settings.")
    filter: Filter = Field(default_factory=Filter, description="Dedupe, decontamination and diversity settings.")
    mix: Mix = Field(default_factory=Mix, description="Mixing study.")
    train: Train = Field(default_factory=Train, description="Reference detoxifier training.")
    evaluate: Evaluate = Field(default_factory=Evaluate, description="Evaluation settings.")
    certify: Certify = Field(default_factory=Certify, description="Certification gates.")
    publish: Publish = Field(default_factory=Publish, description="Hub publishing settings.")
    distill: Distill | None = Field(None, description="UniDetox distillation settings (kind distill only, required there).")
    selfgen: SelfGen | None = Field(None, description="SGEAT self-generation settings (kind selfgen only, required there).")
    lm_train: LMTrain | None = Field(None, description="Target LM fine-tuning (kinds distill and selfgen; default settings when absent).")
    lm_evaluate: LMEvaluate | None = Field(None, description="LM toxicity evaluation (kinds distill and selfgen; defaults when absent).")
    lm_certify: LMCertify | None = Field(None, description="LM certification gates (kinds distill and selfgen; defaults when absent).")
    translate: Translate | None = Field(None, description="Translation settings (kind translate only, required there).")
    grid: Grid | None = Field(None, description="Cross-lingual experiment grid (kind translate only, required there).")
    crosslingual: CrossLingual | None = Field(None, description="Cross-lingual SFT/DPO detoxification, Beniwal et "
                                              "al. 2025 (kind crosslingual only, required there).")
    engine: Engine = Field(default_factory=Engine, description="Where generation and near-duplicate removal run: this machine or a Ray cluster.")
    abliterate: Abliterate | None = Field(None, description="Activation patching of the generator before `generate` "
                                                      "(kinds toxify and detoxify; `factory abliterate RECIPE`).")

    _path: str = PrivateAttr("")

    @model_validator(mode="after")
    def _kind_sections(self) -> "Recipe":
        for section in ("distill", "selfgen"):
            if (getattr(self, section) is not None) != (self.kind == section):
                raise ValueError(f"{section}: {'required' if self.kind == section else 'only allowed'} for kind {section}")
        if self.kind in LM_KINDS:
            if self.models.generator is None:
                raise ValueError(f"models.generator: kind {self.kind} needs the base LM here")
            self.lm_train = self.lm_train or LMTrain()
            self.lm_evaluate = self.lm_evaluate or LMEvaluate()
            self.lm_certify = self.lm_certify or LMCertify()
            if self.kind == "selfgen" and self.generate.backend == "openai" and self.generate.server.mode == "chat":
                raise ValueError("generate.server.mode: selfgen sends a plain BOS prompt; use completion")
        elif any(getattr(self, s) is not None for s in ("lm_train", "lm_evaluate", "lm_certify")):
            raise ValueError("lm_train, lm_evaluate, lm_certify: only for kinds distill and selfgen")
        return self

    @model_validator(mode="after")
    def _pair_mix_has_human_baseline(self) -> "Recipe":
        if self.kind in ("toxify", "detoxify") and 0.0 not in self.mix.ratios:
            raise ValueError("mix.ratios: include 0 (the human-data detoxifier the certificate compares with)")
        return self

    @model_validator(mode="after")
    def _translate_sections(self) -> "Recipe":
        given = [s for s in ("translate", "grid") if getattr(self, s) is not None]
        if self.kind != "translate" and given:
            raise ValueError(f"{', '.join(given)}: only allowed for kind translate")
        if self.kind == "translate":
            missing = [s for s in ("translate", "grid") if getattr(self, s) is None]
            problems = [f"{s}: required for kind translate" for s in missing]
            if self.models.generator is None:
                problems.append("models.generator: kind translate needs the translation LM here")
            if not missing:
                problems += translate_problems(self.human.lang, self.translate, self.grid)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _crosslingual_section(self) -> "Recipe":
        if (self.crosslingual is not None) != (self.kind == "crosslingual"):
            raise ValueError(f"crosslingual: {'required' if self.kind == 'crosslingual' else 'only allowed'} "
                             "for kind crosslingual")
        return self

    @model_validator(mode="after")
    def _engine_fits(self) -> "Recipe":
        problems = engine_problems(self.kind, self.generate.backend, self.engine)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _abliterate_fits(self) -> "Recipe":
        problems = abliterate_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _name_model_roles(self) -> "Recipe":
        name_model_roles(self)
        return self

    @property
    def path(self) -> str:
        """The file this recipe was read from ("" when built in code)."""
        return self._path

    def fingerprint(self) -> str:
        """sha256 of the recipe's canonical JSON (defaults included): its provenance hash."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def recipe_json_schema() -> dict[str, Any]:
    """The JSON schema of a recipe, for editors (yaml-language-server) and the docs."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Detox Factory recipe"
    return schema
