"""Stage `publish`: assemble a release folder and push it to the Hugging Face Hub.

The release folder holds Parquet shards per split (`data/train-*.parquet`: kept rows;
`data/dropped-*.parquet`: dropped rows with their reasons), `certificate.json`, the
recipe, `metrics.json` and a dataset card (`README.md`) built with huggingface_hub's
`DatasetCard`. The dry run (the DVC stage) stops there. A real push creates the repo
(private unless asked otherwise) and uploads the folder in one commit. An uncertified
release is refused unless forced, and then the card says so in its first lines.

The Hub token is read by huggingface_hub from the environment or the CLI login; this
module never reads, prints or stores it.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from factory.errors import FactoryError
from factory.publish_card import build_card
from factory.recipe import Recipe
from factory.records import Record, atomic_dir, read_json, read_records, records_to_table, write_json


def write_shards(folder: Path, split: str, records: list[Record], shard_rows: int) -> list[str]:
    """Write `records` as `data/<split>-0000i-of-0000n.parquet`; return the file names."""
    count = max(1, math.ceil(len(records) / shard_rows))
    names = []
    for index in range(count):
        name = f"data/{split}-{index:05d}-of-{count:05d}.parquet"
        (folder / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(records_to_table(records[index * shard_rows : (index + 1) * shard_rows]), folder / name)
        names.append(name)
    return names


def build_release(recipe: Recipe, out: Path, *, root: Path, force: bool = False) -> Path:
    """Assemble the release folder at `out` (atomically); refuse an uncertified one unless forced."""
    root = Path(root)
    certificate = read_json(root / "certify" / recipe.name / "certificate.json")
    if not certificate["certified"] and not force:
        failed = ", ".join(g["name"] for g in certificate["gates"] if not g["passed"])
        raise FactoryError(f"{recipe.name}: release is not certified (failed gates: {failed}); use --force to publish anyway")
    rows = read_records(root / "filtered" / recipe.name / "rows.parquet")
    evaluation = read_json(root / "eval" / recipe.name / "metrics.json")
    report = read_json(root / "filtered" / recipe.name / "report.json")
    with atomic_dir(out) as tmp:
        kept = [r for r in rows if r.kept]
        dropped = [r for r in rows if not r.kept]
        splits = {"train": write_shards(tmp, "train", kept, recipe.publish.shard_rows),
                  "dropped": write_shards(tmp, "dropped", dropped, recipe.publish.shard_rows)}
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "metrics.json", {"evaluation": evaluation, "corpus": report})
        if recipe.path:
            shutil.copyfile(recipe.path, tmp / "recipe.yaml")
        card = build_card(recipe, certificate, evaluation, report, splits, {"train": len(kept), "dropped": len(dropped)},
                          forced=force and not certificate["certified"])
        card.save(tmp / "README.md")
    return out


def push(folder: Path, repo_id: str, *, private: bool, certified: bool) -> str:
    """Create the dataset repo and upload `folder` in one commit; return the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    message = "Add certified release" if certified else "Add UNCERTIFIED release (forced)"
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                 commit_message=f"{message} made by detox-factory")
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", "?")
        raise FactoryError(f"publish {repo_id}: the Hub refused the upload (HTTP {status}); nothing was committed") from None
    except (OSError, ConnectionError) as exc:
        raise FactoryError(f"publish {repo_id}: network error ({type(exc).__name__}); nothing was committed") from None
    return str(getattr(info, "commit_url", info))


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None, repo_id: str | None = None,
        dry_run: Path | None = None, public: bool = False, force: bool = False) -> Path:
    """Build the release folder (data/release/<recipe>/ or `dry_run`); push it when `repo_id` is given.

    With neither `repo_id` nor `dry_run` (the DVC stage), this is a dry run into the
    default folder. With `dry_run`, nothing is pushed whatever `repo_id` says.
    """
    folder = Path(dry_run) if dry_run else Path(root) / "release" / recipe.name
    build_release(recipe, folder, root=root, force=force)
    if repo_id and dry_run is None:
        certified = read_json(folder / "certificate.json")["certified"]
        push(folder, repo_id, private=recipe.publish.private and not public, certified=certified)
    return folder


def describe_release(folder: Path) -> dict[str, Any]:
    """A short summary of a release folder (files and certificate verdict)."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return {"folder": str(folder), "files": files, "certified": read_json(folder / "certificate.json")["certified"]}
