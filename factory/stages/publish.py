"""Stage `publish`: assemble a release folder and push it to the Hugging Face Hub.

The release folder holds Parquet shards per split (`data/train-*.parquet`: kept rows;
`data/dropped-*.parquet`: dropped rows with their reasons; a split without rows gets no
file, see `factory.publish_table` for the columns), `certificate.json`, the
recipe, `metrics.json` and a dataset card (`README.md`) built with huggingface_hub's
`DatasetCard`. The dry run (the DVC stage) stops there. A real push creates the repo
(private unless asked otherwise) and uploads the folder in one commit, which also
deletes shards of an earlier release that this one does not have. An uncertified
release (verdict not_certified or inconclusive) is refused unless forced, and then the
card says so in its first lines; so is the push of a release made by stages run with
`--limit` (a LIMITED RUN, `factory.core.limits`).
The report page of the recipe (`factory report`) goes in as `report.html` when it was made
from this very certificate.

The Hub token is read by huggingface_hub from the environment (`HF_TOKEN`) or the CLI
login; it is never passed, printed or stored here, and error messages from the Hub are
scrubbed of it before they are shown.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from factory.core import limits
from factory.core.errors import FactoryError
from factory.core.gates import names_with
from factory.publish_card import ReleaseFacts, build_card
from factory.publish_table import release_schema, write_shards
from factory.core.outputs import MARKER, same_folder
from factory.recipe import Recipe
from factory.core.records import Record, atomic_dir, read_json, read_records, write_json
from factory.kinds import kind_of
from factory.report_facts import plot_files, report_is_current
from factory.core.layout import Layout
from factory.core.reports import Certificate


def check_certificate(recipe: Recipe, certificate: dict[str, Any], *, force: bool) -> None:
    """Refuse a stale certificate always, and an uncertified release unless forced."""
    made_for = certificate.get("provenance", {}).get("recipe", {}).get("sha256")
    if made_for != recipe.fingerprint():
        raise FactoryError(f"{recipe.path or recipe.name}: the certificate was made for another version of this "
                           "recipe (sha256 differs); re-run the pipeline (`dvc repro` or `factory run`) first")
    if not certificate["certified"] and not force:
        if certificate.get("verdict") == "inconclusive":
            raise FactoryError(f"{recipe.name}: release is not certified: INCONCLUSIVE ({certificate.get('reason')}); "
                               "use --force to publish anyway (the card will say so)")
        failed = ", ".join(names_with(certificate, "fail"))
        inconclusive = ", ".join(names_with(certificate, "inconclusive"))
        raise FactoryError(f"{recipe.name}: release is not certified (failed gates: {failed}"
                           f"{'; inconclusive: ' + inconclusive if inconclusive else ''}); "
                           "use --force to publish anyway (the card will say so)")


def check_whole_run(recipe: Recipe, certificate: dict[str, Any], *, force: bool) -> None:
    """Refuse to push a release made by stages run with `--limit`, unless forced."""
    limited = limits.limited_stages(certificate)
    if limited and not force:
        raise FactoryError(f"{recipe.name}: the release comes from a LIMITED RUN ({limits.describe(limited)}); "
                           "re-run those stages without --limit, or use --force to publish it anyway "
                           "(the card says LIMITED RUN)")


def release_splits(rows: list[Record]) -> dict[str, list[Record]]:
    """The rows of every split: `train` (kept) and `dropped` (with their reasons), empty ones included."""
    return {"train": [r for r in rows if r.kept], "dropped": [r for r in rows if not r.kept]}


def build_release(recipe: Recipe, out: Path, *, root: Path, force: bool = False, overwrite: bool = False) -> Path:
    """Assemble the release folder at `out` (atomically); refuse an uncertified one unless forced.

    An empty split gets no file and no `configs` entry (the Hub and `datasets` cannot load a
    Parquet split without rows); the card names it as empty.

    `out` other than data/release/<recipe> is a folder the user named: an existing one not
    made by `factory publish` is refused unless `overwrite` (see `factory.core.outputs`).
    """
    root = Path(root)
    certificate = Certificate.read(Layout(root).certificate(recipe.name)).raw
    check_certificate(recipe, certificate, force=force)
    rows_path = Layout(root).filtered_rows(recipe.name)
    rows = read_records(rows_path)
    if not rows:
        raise FactoryError(f"{rows_path}: no rows, kept or dropped; there is nothing to release")
    splits = release_splits(rows)
    schema = release_schema(rows)
    user_folder = not same_folder(out, release_folder(recipe, root))
    with atomic_dir(out, maker="factory publish", user_folder=user_folder, overwrite=overwrite, roots=[root]) as tmp:
        files = {split: write_shards(tmp, split, records, recipe.publish.shard_rows, schema)
                 for split, records in splits.items() if records}
        evaluation = read_json(Layout(root).eval_metrics(recipe.name))
        report = read_json(Layout(root).filter_report(recipe.name))
        write_json(tmp / "certificate.json", certificate)
        write_json(tmp / "metrics.json", {"evaluation": evaluation, "corpus": report})
        if recipe.path:
            shutil.copyfile(recipe.path, tmp / "recipe.yaml")
        page = Layout(root).report_page(recipe.name)
        images: dict[str, str] = {}
        if report_is_current(page, Layout(root).certificate(recipe.name)):
            shutil.copyfile(page, tmp / "report.html")  # the self-contained report page of this certificate
            images = copy_plots(recipe, root, tmp)
        facts = ReleaseFacts(recipe, certificate, evaluation, report, files,
                             counts={split: len(records) for split, records in splits.items()},
                             languages=sorted({r.lang for r in splits["train"]} or {recipe.human.lang}),
                             schema=schema, example=next(iter(splits["train"]), None),
                             drop_reasons=dict(Counter(r.drop_reason for r in splits["dropped"])), images=images)
        build_card(facts).save(tmp / "README.md")
    return out


def copy_plots(recipe: Recipe, root: Path, folder: Path) -> dict[str, str]:
    """Copy the recipe's plot PNGs (the ones its current report page shows) into `folder`/images/;
    {plot name: path in the release} of those that exist, for the card."""
    kind = kind_of(recipe)
    plots = plot_files(recipe.name, kind.STUDY, root, grid=kind.GRID)
    found = {name: path for name, path in plots.items() if path.is_file()}
    if found:
        (folder / "images").mkdir()
    for path in found.values():
        shutil.copyfile(path, folder / "images" / path.name)
    return {name: f"images/{path.name}" for name, path in found.items()}


def release_folder(recipe: Recipe, root: Path) -> Path:
    """The pipeline's own release folder of `recipe`: <root>/release/<name>."""
    return Layout(root).release(recipe.name)


def _scrub(text: str) -> str:
    """`text` with the Hub token (if any is configured) replaced by `***`."""
    from huggingface_hub import get_token

    token = get_token()
    return text.replace(token, "***") if token else text


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exception types of a failed connection: OS-level ones and huggingface_hub's HTTP client's."""
    try:
        import httpx2  # the HTTP client of huggingface_hub >= 2

        return (OSError, httpx2.TransportError)
    except ImportError:
        return (OSError,)


def push(folder: Path, repo_id: str, *, private: bool, certified: bool) -> str:
    """Create the dataset repo and upload `folder` in one commit; return the commit URL.

    Every file goes into a single commit, which the Hub applies whole or not at all. Shards
    of an earlier release under `data/` are deleted in that same commit. With `private`,
    an existing public repo is refused rather than published into.
    """
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    if get_token() is None:
        raise FactoryError(f"publish {repo_id}: no Hub token; set HF_TOKEN or log in with `hf auth login`")
    api = HfApi()
    message = "Add certified release" if certified else "Add UNCERTIFIED release (forced)"
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if private and api.repo_info(repo_id, repo_type="dataset").private is False:
            raise FactoryError(f"publish {repo_id}: the repo exists and is public; pass --public to publish into it")
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                 commit_message=f"{message} made by detox-factory", delete_patterns=["data/*"],
                                 ignore_patterns=[MARKER])
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", "?")
        detail = _scrub(str(exc).splitlines()[0])
        raise FactoryError(f"publish {repo_id}: the Hub refused the upload (HTTP {status}: {detail}); "
                           "nothing was committed") from None
    except ValueError as exc:  # e.g. the Hub's verdict on the card metadata
        raise FactoryError(f"publish {repo_id}: upload failed: {_scrub(str(exc))}") from None
    except _network_errors() as exc:
        raise FactoryError(f"publish {repo_id}: network error ({type(exc).__name__}: {_scrub(str(exc))}); "
                           "nothing was committed") from None
    return str(getattr(info, "commit_url", info))


def run(recipe: Recipe, *, root: Path = Path("data"), limit: int | None = None, repo_id: str | None = None,
        dry_run: Path | None = None, public: bool = False, force: bool = False, overwrite: bool = False) -> Path:
    """Build the release folder (data/release/<recipe>/ or `dry_run`); push it when `repo_id` is given.

    With neither `repo_id` nor `dry_run` (the DVC stage), this is a dry run into the
    default folder. With `dry_run`, nothing is pushed whatever `repo_id` says. `overwrite`
    lets `dry_run` replace a folder the factory did not make.
    """
    folder = Path(dry_run) if dry_run else release_folder(recipe, root)
    pushing = bool(repo_id) and dry_run is None
    if pushing:
        check_whole_run(recipe, Certificate.read(Layout(root).certificate(recipe.name)).raw, force=force)
    build_release(recipe, folder, root=root, force=force, overwrite=overwrite)
    if pushing:
        certified = Certificate.read(folder / "certificate.json").certified
        push(folder, repo_id, private=recipe.publish.private and not public, certified=certified)
    return folder

