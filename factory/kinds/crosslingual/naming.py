"""Names of a `crosslingual` recipe's models and outputs, light enough for the report stage to import.

The recipe's folders, the labels of the trained settings (`sft-de-100`) and their order, the
per-setting file `trained/<label>/setting.json`, the score rows' reader, the certified prompt set and
the heat maps' file names. No model code is imported here, so a
stage that only reads outputs (the report) does not depend on the training and evaluation code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.errors import FactoryError
from factory.core.records import read_json
from factory.recipe import Recipe
from factory.recipe.crosslingual import setting_label  # noqa: F401 (the kind names its models with it)

SETTING_FILE = "setting.json"
"""Per trained setting: its training log, data, share and languages (trained/<label>/setting.json)."""
CERTIFIED_SET = "test_toxic"
"""The prompt set the certificate's gates and the cells' DVC metrics use (the reference's test toxic sentences)."""


def base_dir(recipe: Recipe, root: Path) -> Path:
    """data/crosslingual/<recipe>/."""
    return Path(root) / "crosslingual" / recipe.name


def trained_dir(recipe: Recipe, root: Path, label: str = "") -> Path:
    """data/crosslingual/<recipe>/trained/ (and the folder of the model `label` in it)."""
    folder = base_dir(recipe, root) / "trained"
    return folder / label if label else folder


def read_rows(path: Path, command: str) -> list[dict[str, Any]]:
    """The score rows of a parquet file (missing values as None); a missing file names the command that
    writes it."""
    import pandas as pd

    if not Path(path).is_file():
        raise FactoryError(f"{path}: missing; run `{command}` first")
    frame = pd.read_parquet(path)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def planned_runs(recipe: Recipe) -> list[tuple[str, str, float]]:
    """(method, data, share) of every model the recipe trains, in order (`CrossLingual.planned_runs`)."""
    return recipe.crosslingual.planned_runs()


def planned_labels(recipe: Recipe) -> list[str]:
    """The labels of every model the recipe trains (`sft-de-100`), in the recipe's order."""
    return recipe.crosslingual.planned_labels()


def trained_summary(recipe: Recipe, root: Path, required: bool = True) -> dict[str, Any]:
    """label -> setting.json of every planned setting, in the recipe's order; a missing one names the command
    that trains it (`required`), or is left out."""
    summary = {}
    for label in planned_labels(recipe):
        path = trained_dir(recipe, root, label) / SETTING_FILE
        if path.is_file():
            summary[label] = read_json(path)
        elif required:
            raise FactoryError(f"{path}: missing; run `factory crosslingual train {recipe.path or recipe.name} "
                               f"--setting {label}` (or `factory train`) first")
    return summary


def heatmap_name(prompts: str, metric: str) -> str:
    """File name of one heat map: the certified set's keep the short name."""
    return f"heatmap-{metric}.png" if prompts == CERTIFIED_SET else f"heatmap-{prompts}-{metric}.png"
