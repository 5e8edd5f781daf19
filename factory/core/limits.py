"""The `--limit` each stage ran with, so that a release made from a trial run says so.

`factory <stage> RECIPE --limit N` (and `factory run --limit N`) processes at most N rows.
After a stage of the pipeline ran, the CLI writes `limit.json` (`{"stage": ..., "limit": N or
null}`) into the stage's output folder, beside the files the stage wrote, so the record is
replaced whenever the stage runs again. `certify` collects the records into the certificate's
provenance (`limits`); a release whose inputs came from a limited stage is a LIMITED RUN: its
card says so first, and `factory publish --repo-id` refuses it unless forced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.core.records import read_json, write_json

LIMIT_FILE = "limit.json"
STAGE_FOLDERS = {"ingest": "human", "generate": "generated", "filter": "filtered", "mix": "mixed",
                 "train": "trained", "evaluate": "eval"}
"""The data folder (`<root>/<folder>/<recipe>/`) of every stage whose limit is recorded."""


def record(stage: str, recipe_name: str, root: Path, limit: int | None) -> Path | None:
    """Write the limit `stage` ran with into its output folder; None for stages without one."""
    if stage not in STAGE_FOLDERS:
        return None
    return write_json(Path(root) / STAGE_FOLDERS[stage] / recipe_name / LIMIT_FILE, {"stage": stage, "limit": limit})


def collect(recipe_name: str, root: Path) -> dict[str, Any]:
    """Every stage's recorded limit (None: ran whole), the stages without a record, and `limited`."""
    stages: dict[str, int | None] = {}
    unrecorded = []
    for stage, folder in STAGE_FOLDERS.items():
        path = Path(root) / folder / recipe_name / LIMIT_FILE
        if path.is_file():
            stages[stage] = read_json(path).get("limit")
        else:
            unrecorded.append(stage)
    return {"stages": stages, "unrecorded": unrecorded, "limited": any(v is not None for v in stages.values())}


def limited_stages(certificate: dict[str, Any]) -> dict[str, int]:
    """The stages of a certificate's release that ran with a limit, with the limit, in pipeline order."""
    stages = certificate.get("provenance", {}).get("limits", {}).get("stages", {})
    order = [*STAGE_FOLDERS, *sorted(set(stages) - set(STAGE_FOLDERS))]  # pipeline order (JSON sorts the keys)
    return {stage: stages[stage] for stage in order if stages.get(stage) is not None}


def describe(limited: dict[str, int]) -> str:
    """`generate --limit 8, filter --limit 8` for the card and messages."""
    return ", ".join(f"{stage} --limit {limit}" for stage, limit in limited.items())


def head_per_language(rows: list[Any], limit: int | None) -> list[Any]:
    """The first `limit` rows of each language (`row.lang`), in their order; all rows when `limit` is None.

    A stage's `--limit` caps every language alike: the generated rows of a translate recipe come
    language by language, so a plain head kept only the first language and left the grid's other
    settings without training rows. One language: the same as `rows[:limit]`.
    """
    if limit is None:
        return list(rows)
    taken: dict[str, int] = {}
    kept = []
    for row in rows:
        if taken.get(row.lang, 0) < limit:
            taken[row.lang] = taken.get(row.lang, 0) + 1
            kept.append(row)
    return kept
