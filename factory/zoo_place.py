"""Where the tiny zoo is: `factory --zoo DIR`, else data/models/zoo, whatever `--root` says.

The CLI sets the folder for the length of one command (`use_for_this_run`), through the
environment variable `FACTORY_ZOO` so that worker processes see it too. Library callers
that set nothing keep the old layout: `<root>/models/zoo`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV = "FACTORY_ZOO"
"""Environment variable naming the zoo folder (also read by `factory --zoo`)."""


def zoo_folder(root: Path = Path("data")) -> Path:
    """The zoo folder: $FACTORY_ZOO when set, else <root>/models/zoo."""
    chosen = os.environ.get(ENV)
    return Path(chosen) if chosen else Path(root) / "models" / "zoo"


def use_for_this_run(folder: Path, context: Any) -> None:
    """Point `zoo_folder` at `folder` (made absolute) until the click `context` closes."""
    before = os.environ.get(ENV)
    os.environ[ENV] = str(Path(folder).expanduser().absolute())

    def restore() -> None:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before

    context.call_on_close(restore)
