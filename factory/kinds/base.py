"""The `Kind` protocol: what a recipe kind supplies to the stages, and nothing more.

A kind is a module (a package under `factory/kinds/`) with these names; the stages ask the
registry (`factory.kinds.kind_of`) for the recipe's kind and call it, so no stage branches on
`recipe.kind`. The functions take the recipe (toxify and detoxify share one module and tell
themselves apart by `recipe.kind`) and import their algorithms lazily, so that `factory
pipeline` can give each stage only the code of the kind functions it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Protocol

from factory.core.gates import Gate
from factory.methods import Method
from factory.recipe import Recipe

Study = Literal["mixing", "lm", "matrices"]
"""What `train` and `evaluate` study: the mixing study of a reference detoxifier (pair kinds) or
base vs detoxified target LMs, or (crosslingual) train-setting x language matrices of fine-tuned LMs."""


@dataclass
class Release:
    """What a kind's certification adds to the certificate: gates, headline metrics, intervals."""

    gates: list[Gate]
    metrics: dict[str, Any]
    intervals: dict[str, Any]
    unit: str
    """What the bootstrap resamples (`test inputs`, `prompts`)."""


class Kind(Protocol):
    """One recipe kind (see the module docstring); `factory/kinds/rewrite` is the model."""

    STUDY: Study
    PAIRS: bool
    """Rows are toxic/neutral pairs with human text (exports, language gates of the human side)."""
    GRID: bool
    """The kind has the cross-lingual grid stages and exports (`grid.recipes` in params.yaml may name it)."""
    OWN_PIPELINE: bool
    """False: the corpus pipeline (ingest ... publish, report). True: the kind makes no corpus; it runs only
    `RUN_STAGES`, its DVC stages come from `stage_specs(recipe)` (keys (verb, *parts): a setting and a language
    name the stage and fill its {setting} and {lang}), and the certify stage calls its
    `write_certificate(recipe, root, limit, provenance)` instead of `certify` (factory/kinds/crosslingual)."""

    def generate(self, recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
        """Write data/generated/<recipe>/."""

    def train(self, recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
        """Write data/trained/<recipe>/."""

    def evaluate(self, recipe: Recipe, root: Path, limit: Optional[int]) -> Path:
        """Write data/eval/<recipe>/."""

    def certify(self, recipe: Recipe, root: Path, inputs: dict[str, Any]) -> Release:
        """Gates, headline metrics and intervals of the release (`inputs`: the upstream reports)."""

    def uses_generate_backend(self, recipe: Recipe) -> bool:
        """Whether `generate.backend` drives generation (`factory check` names the server key it sends)."""

    def method(self, recipe: Recipe) -> Method:
        """The method as the dataset card names it: name, paper (BibTeX), role of the human pairs the rows carry."""

    def cache_folders(self, recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
        """{label: function giving the cache folders the recipe's stages use now} (for `factory clean`)."""

    def export_corpus(self, recipe: Recipe, root: Path, kept: list) -> list:
        """The rows `factory export` writes, given the kept filtered rows."""

    def extra_run(self, recipe: str, root: Path, limit: Optional[int]) -> None:
        """What `factory run` does after certify besides the exports (with `GRID`), report and publish."""

    def commands(self) -> dict[str, tuple[Any, dict[str, Callable[..., None]]]]:
        """Extra CLI command groups: {group: (typer app, {command name: function})}."""
