"""The top-level recipe: the sections every kind reads, plus the JSON schema for editors."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from factory.recipe.abliterate import abliterate_problems
from factory.recipe.base import Section, Seed, name_model_roles
from factory.recipe.data import HumanData, Models
from factory.recipe.engine import Engine, engine_problems
from factory.recipe.filter import Filter
from factory.recipe.release import CertifyStatistics, Publish
from factory.recipe.study import Mix
from factory.recipe.unread import RejectsUnread

RecipeKind = Literal["toxify", "detoxify", "distill", "selfgen", "translate", "crosslingual"]

KIND_SECTIONS = ("generate", "train", "evaluate", "distill", "selfgen", "lm_train", "lm_evaluate", "lm_certify",
                 "translate", "grid", "abliterate", "crosslingual")
"""Top-level sections that only some kinds read (`factory.recipe.families`); reading one that a recipe's kind
does not have gives None."""


FAMILY_HOOKS: dict[str, Any] = {}
"""`family_of` and `unread_section` of `factory.recipe.families`, which registers them when imported (the
package `factory.recipe` imports it first), so this module needs no import of the families built on it."""


class Recipe(RejectsUnread, Section):
    """One dataset release: what to generate, how to filter, mix, train, evaluate and certify it.

    The sections every kind reads; each kind family (`factory.recipe.families`) adds its own,
    and a section of another family is an error. `Recipe(...)` and `Recipe.model_validate(...)`
    build the family of the recipe's `kind`; `isinstance(x, Recipe)` holds for every family.
    """

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Release name; also the folder name under data/*/."
    )
    kind: RecipeKind = Field(description="Method: toxify, detoxify, distill, selfgen, translate or crosslingual.")
    profile: Literal["tiny", "full"] = Field(
        "tiny", description="tiny: offline zoo models on CPU; full: Hub models, published settings."
    )
    description: str = Field("", description="What this release is for; shown on the dataset card.")
    seed: Seed = Field(0, description="Seed of every random choice not seeded elsewhere (splits, mixes, training).")
    human: HumanData = Field(
        default_factory=HumanData, description="Human data: few-shot pool, mixing partner, test split."
    )
    models: Models = Field(default_factory=Models, description="Models by role.")
    filter: Filter = Field(default_factory=Filter, description="Dedupe, decontamination and diversity settings.")
    mix: Mix = Field(default_factory=Mix, description="Mixing study.")
    certify: CertifyStatistics = Field(default_factory=CertifyStatistics, description="Certification gates.")
    publish: Publish = Field(default_factory=Publish, description="Hub publishing settings.")
    engine: Engine = Field(
        default_factory=Engine, description="Where generation and near-duplicate removal run: this machine or a Ray "
        "cluster."
    )

    _path: str = PrivateAttr("")

    def __new__(cls, *args: Any, **data: Any) -> "Recipe":
        """`Recipe(kind=..., ...)` builds the family of that kind (`factory.recipe.families`)."""
        if cls is Recipe:
            return object.__new__(FAMILY_HOOKS["family_of"](data))
        return object.__new__(cls)

    def __getattr__(self, name: str) -> Any:
        """A kind section this recipe's family does not have is None (`recipe.distill` of a toxify recipe)."""
        if name in KIND_SECTIONS and name not in type(self).model_fields:
            return None
        return super().__getattr__(name)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> "Recipe":
        """Validate `obj` as the family of its `kind` (called on `Recipe`) or as this family."""
        if cls is Recipe:
            return FAMILY_HOOKS["family_of"](obj).model_validate(obj, **kwargs)
        return super().model_validate(obj, **kwargs)

    @classmethod
    def unread_reasons(cls, data: dict[str, Any]) -> dict[str, str]:
        """The kind sections of other families given in `data`, each with why this kind does not read it."""
        kind = data.get("kind")
        return {key: FAMILY_HOOKS["unread_section"](str(kind), key) for key in KIND_SECTIONS
                if key in data and key not in cls.model_fields}

    @model_validator(mode="after")
    def _engine_fits(self) -> "Recipe":
        generate = getattr(self, "generate", None)
        problems = engine_problems(self.kind, generate.backend if generate else None, self.engine)
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
