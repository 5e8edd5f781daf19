"""Kind `crosslingual` (Breaking mBad, Beniwal et al. 2025): cross-lingual SFT/DPO detoxification.

Not a corpus kind: it makes no rows to filter, mix or publish. `generate` writes the
reference split of the human multilingual data (and of a factory-made corpus), `train`
fine-tunes one LM per train setting through TRL and PEFT (one DVC stage each), `evaluate` scores
the continuations of every model in every language (one DVC stage per cell) into the toxicity,
reduction and perplexity matrices of every prompt set, and
`certify` writes a certificate of its own from them (`write_certificate`). Its DVC stages come
from `stage_specs` (`OWN_PIPELINE`); the algorithms live in `factory.crossft`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from factory.kinds.base import Release, Study
from factory.methods import Method, method_of
from factory.recipe import Recipe

STUDY: Study = "matrices"
PAIRS = False
GRID = False
OWN_PIPELINE = True
"""The kind runs generate, train, evaluate and certify only, with stages of its own (`pipeline_stages`)."""
RUN_STAGES = ("generate", "train", "evaluate", "certify")  # then its report page (`factory run`)
"""The stages `factory run` runs, in order."""


def generate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Write the reference split (shuffle seed 42, first train rows, next test rows) per language."""
    from factory.kinds.crosslingual.steps import generate as write_split

    return write_split(recipe, root, limit)


def train(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """SFT and DPO (TRL + PEFT LoRA) one model per train setting and data share."""
    from factory.kinds.crosslingual.train_step import train as train_all

    return train_all(recipe, root, limit)


def evaluate(recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
    """Continuations of every model (and zero-shot) in every language, scored into matrices."""
    from factory.core.errors import check_limit
    from factory.kinds.crosslingual.evaluation import evaluate_all

    check_limit(limit, "evaluate")
    return evaluate_all(recipe, Path(root), limit)


def certify(recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
    """Not used: the kind writes its certificate itself (`write_certificate`)."""
    raise NotImplementedError("kind crosslingual writes its certificate with write_certificate")


def write_certificate(recipe: Recipe, root: Path, limit: Optional[int], provenance: dict[str, Any]) -> Path:
    """Gates on the matrices (reduction vs zero-shot with intervals, perplexity, corpus vs human data)."""
    from factory.kinds.crosslingual.certification import certify as certify_matrices

    return certify_matrices(recipe, root, limit, provenance)


def stage_specs(recipe: Recipe) -> dict[Any, Any]:
    """(verb, *parts) -> the DVC stage spec: generate, train per setting, evaluate per cell and gathered, certify,
    report (`factory.kinds.crosslingual.pipeline_stages`)."""
    from factory.kinds.crosslingual.pipeline_stages import stage_specs as specs

    return specs(recipe)


def uses_generate_backend(recipe: Recipe) -> bool:
    """Never: continuations are sampled with transformers."""
    return False


def method(recipe: Recipe) -> Method:
    """The method as the dataset card names it (`factory.methods`)."""
    return method_of(recipe.kind)


def cache_folders(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    """The SFT/DPO checkpoints under data/cache/<recipe>/crosslingual/."""
    return {"crosslingual": lambda r, root: [Path(root) / "cache" / r.name / "crosslingual"]}


def export_corpus(recipe: Recipe, root: Path, kept: list) -> list:
    """No corpus to export."""
    return []


def extra_run(recipe: str, root: Path, limit: Optional[int]) -> None:
    """The embedding analysis, when the recipe enables it (`embed_if_enabled`)."""
    from factory.kinds.crosslingual.embedding_step import embed_if_enabled
    from factory.recipe import load_recipe, recipe_path

    embed_if_enabled(load_recipe(recipe_path(recipe)), Path(root))


def commands() -> dict[str, Any]:
    """`factory crosslingual train|evaluate|matrices|embed`: the pieces its DVC stages run."""
    from factory.kinds.crosslingual import cli

    return {"crosslingual": (cli.cross_app, cli.CROSS_COMMANDS)}
