"""Names of the DVC stages that `factory pipeline` writes: `<verb>-<recipe>[-<setting>[-<lang>]]`.

DVC accepts letters, digits, `-` and `_` in a stage name (`@` addresses `foreach` members,
and other punctuation is refused by `dvc stage add`), so any other character of a recipe
name or grid setting (`.`, `+`) becomes `_`: `train-toxify`, `grid-score-translate-en_de-es`.
"""

from __future__ import annotations

import re


def stage_name(verb: str, *parts: str) -> str:
    """The DVC stage of `verb` for a recipe (and grid setting and language): `generate-toxify`."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "-".join((verb, *parts)))
