"""The one error type users see: bad input named precisely, exit code 2."""

from __future__ import annotations


class FactoryError(Exception):
    """A problem with the user's input (recipe, data file, model folder, settings).

    The message names the file, the field or row, and what is wrong. The CLI prints it
    without a traceback and exits with code 2.
    """

    exit_code = 2


class RecipeError(FactoryError):
    """A recipe failed validation; `problems` lists every problem found, one per line.

    One problem is one line, `path: problem`; several get a count line first.
    """

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"{path}: {p}" for p in problems)
        super().__init__(lines if len(problems) == 1 else f"{len(problems)} problems in {path}:\n{lines}")


def check_limit(limit: int | None, stage: str) -> int | None:
    """Return a stage's row `limit`; below 1 is an error (0 rows must never overwrite a good output)."""
    if limit is not None and limit < 1:
        raise FactoryError(f"{stage}: limit must be at least 1 row, got {limit}")
    return limit
