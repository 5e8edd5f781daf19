"""Recipe section `abliterate`: activation patching of the generator, run before `generate`.

`factory abliterate RECIPE` patches `abliterate.model` and writes it to
data/models/abliterated/<recipe>; the recipe generates with it by naming it
`models.generator: abliterated:<recipe>`. See factory/models/abliterate_recipe.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from factory.recipe.base import ModelSpec, Section
from factory.recipe.sources import TextSource

ABLITERATED = "abliterated:"
"""`abliterated:NAME` as a model ref: the folder `factory abliterate NAME` writes, <root>/models/abliterated/NAME."""

REFERENCE_FIRST_EDITED = 3
"""RefusalsRemover.ipynb reads directions at layers 2..L-1 (cell 7) and edits layers 3..L-1 (cell 33)."""


class Abliterate(Section):
    """Activation patching ("abliteration") of the generator, as PseudoParaDetox's RefusalsRemover notebook.

    Directions are differences of mean residual activations between prompts made of toxic and of
    neutral sentences, under the recipe's system prompt. The patched model goes to
    data/models/abliterated/<recipe>, with `abliteration.json` beside its weights: the refusal
    rate on held-out rewrite prompts before and after the edit.
    """

    model: ModelSpec = Field(description="The instruction LM to patch (the notebook: Llama-3-8B-Instruct in float16). "
                                         "The recipe then generates with `models.generator: abliterated:<recipe>`.")
    edit: Literal["reference", "project"] = Field(
        "reference", description="reference: one direction per layer, each layer's MLP down projection "
        "orthogonalised on its output side and its attention output projection on its input side, against that "
        "layer's own direction, weights only (RefusalsRemover.ipynb cells 32-36). project: one direction, from the "
        "layer with the lowest held-out refusal rate, removed from what every attention and MLP output projection "
        "writes, biases included (Arditi et al. 2024; the MODEL form of `factory abliterate`).")
    toxic_source: TextSource | None = Field(
        None, description="Toxic sentences for the directions, read in stored order. Default: the toxic side of "
        "`num_prompts` pairs of the human train split (a seeded choice). The notebook: the toxic sentences of its "
        "multilingual ParaDetox en/ru/de train split.")
    neutral_source: TextSource | None = Field(
        None, description="Neutral sentences for the directions. Default: the neutral side of the same pairs as "
        "the toxic default.")
    num_prompts: int = Field(32, ge=1, le=100_000, description="Sentences per side for the directions "
                                                              "(the notebook: 32, cell 4).")
    prefix: str = Field("Continue this text: ", description="Put before every direction sentence, which is the "
                                                           "user turn under the recipe's system prompt (cell 20).")
    position: int = Field(-3, le=-1, description="Prompt token (counted from the end, -1 = last) whose residual "
                                                 "activation is read (the notebook: -3, cell 26).")
    layers: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, description="edit reference: the decoder layers edited, 0-based (default: 3..L-1 as "
        "the notebook, cell 33). edit project: the candidate layers whose direction is tried (default: every "
        "layer); the lowest held-out refusal rate wins, ties go to the layer nearest the middle.")
    heldout_prompts: int = Field(32, ge=1, le=100_000, description="Held-out rewrite inputs (human train split, "
                                                                   "none used for the directions) on which refusals "
                                                                   "are counted, under the recipe's full prompt.")
    max_new_tokens: int = Field(24, ge=1, description="Greedy tokens per held-out reply (the notebook: 12 and 24).")
    batch_size: int = Field(8, ge=1, description="Prompts per generation batch (the notebook: 8).")


def abliterate_problems(recipe: Any) -> list[str]:
    """(`recipe` is a `factory.recipe.schema.Recipe`, which imports this module.) Cross-field problems: abliteration
    is for the rewriting kinds, and its output must be the generator."""
    own = f"{ABLITERATED}{recipe.name}"
    generator = recipe.models.generator.ref if recipe.models.generator else None
    section = recipe.abliterate
    if section is None:
        if generator == own:
            return [f"models.generator: {own} is the model this recipe's `abliterate` section writes; add one"]
        return []
    if recipe.kind not in ("toxify", "detoxify"):
        return [f"abliterate: only for kinds toxify and detoxify (kind {recipe.kind})"]
    if generator != own:
        return [(f"models.generator: {generator!r} does not use the patched model; set {own} "
                 "(abliterate.model names the model to patch)")]
    return []
