"""The cache under <root>/cache/: what is there, what is current, and `factory clean`.

The stages keep, per recipe, folders the DVC outputs do not hold:

- `requests.sqlite` (with `-wal`/`-shm`): the request cache of `generate`, keyed per request,
  so never stale as a whole. It is only removed when asked (`factory clean --requests`).
- `train/<mix>-<fingerprint>` and `train/<target>-<mix>-<run id>`: training checkpoints of
  the mixing study (seq2seq detoxifier; causal LMs of distill and selfgen).
- `grid/<setting>-<fingerprint>`: checkpoints of the cross-lingual grid's detoxifiers.
- `toxic-<key>` and `toxic-<key>-checkpoints`: distill's toxic model and its checkpoints.

A folder is current when the stage, run now without `--limit`, would use it: the current
recipes are those listed in params.yaml, and their fingerprints are computed from the
current inputs (data/mixed, the filtered rows, the model files, the toxic corpus) by the
same functions the stages call. Everything else of those kinds is stale: recipes no longer
listed, and fingerprints of changed settings, data or models (also runs made with
`--limit`). When a current fingerprint cannot be computed (e.g. data/mixed is missing, or
the toxic corpus is on an unreachable Hub), every folder of that kind is kept and the reason
shown. Unknown entries are kept. A recipe whose stages are running (their output lock is
held) is left alone. Leftovers of interrupted writes (`.<name>.tmp-*`, `.<name>.old-*`)
are tidied as the next write would: `.old-*` restored when its folder is missing.
Nothing is removed automatically: only `factory clean` removes, and `--dry-run` lists.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from factory.core.errors import FactoryError
from factory.core.outputs import describe_holder, folder_lock, is_locked, read_holder, recover_swap
from factory.recipe import Recipe
from factory.core.layout import Layout

REQUESTS = "requests.sqlite"
_SQLITE_PARTS = ("", "-wal", "-shm", "-journal")
LABELS = {"train": "training checkpoints", "grid": "grid checkpoints", "toxic": "distill toxic model",
          "unknown": "unknown entry", "leftover": "leftover of an interrupted write", "requests": "request cache"}
"""What each kind of entry is, as `factory status --cache` and `factory clean` name it."""


@dataclass
class CacheEntry:
    """One cache entry: its path, kind, size in bytes, and why it is stale (None: kept, see `note`)."""

    path: Path
    kind: str
    size: int
    stale: str | None = None
    note: str = ""
    in_use: bool = False

    @property
    def removable(self) -> bool:
        """True when `factory clean` removes (or, for leftovers, tidies) this entry."""
        return self.stale is not None


def human_size(size: float) -> str:
    """`532 B`, `12.3 kB`, `4.5 GB` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def disk_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (symlinks not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size if os.path.lexists(path) else 0
    total = 0
    for folder, _, names in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in names)
    return total


def _current_kinds(recipe: Recipe) -> dict[str, Callable[[Recipe, Path], list[Path]]]:
    from factory.kinds import kind_of

    return kind_of(recipe).cache_folders(recipe)


def current_folders(recipe: Recipe, root: Path) -> tuple[set[Path], dict[str, str]]:
    """(the cache folders the recipe's stages would use now, {kind: why it is unknown})."""
    found: set[Path] = set()
    unknown: dict[str, str] = {}
    for kind, compute in _current_kinds(recipe).items():
        try:
            found.update(compute(recipe, root))
        except Exception as exc:  # noqa: BLE001  (any failure: the current fingerprint is unknown, keep the kind)
            unknown[kind] = f"current fingerprint unknown: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return found, unknown


def writer_busy(root: Path, name: str) -> str | None:
    """Who is writing an output of recipe `name` that fills its cache (generate, train, grid), if anyone."""
    writers = [Layout(root).generated(name), Layout(root).trained(name)]
    grid = Layout(root).grid(name) / "trained"
    writers += [grid / lock.name[1:-len(".lock")] for lock in grid.glob(".*.lock")] if grid.is_dir() else []
    for writer in writers:
        if is_locked(writer):
            return f"in use: {writer} is being written by {describe_holder(read_holder(writer))}"
    return None


def _kind_of(relative: tuple[str, ...]) -> str:
    if relative[0] in ("train", "grid"):
        return relative[0]
    return "toxic" if relative[0].startswith("toxic-") else "unknown"


def _leftover_owner(path: Path) -> Path | None:
    """The output a `.<name>.tmp-*` / `.<name>.old-*` entry belongs to, else None."""
    for kind in (".tmp-", ".old-"):
        if path.name.startswith(".") and kind in path.name:
            return path.with_name(path.name[1:].rsplit(kind, 1)[0])
    return None


def _entries_of(folder: Path) -> Iterator[Path]:
    """Cache entries of one recipe folder: top-level files and folders, and the children of train/ and grid/."""
    for path in sorted(folder.iterdir()):
        if path.name in ("train", "grid") and path.is_dir() and not path.is_symlink():
            yield from (child for child in sorted(path.iterdir()) if not child.name.endswith(".lock"))
        elif not path.name.endswith(".lock") and not any(path.name == REQUESTS + p for p in _SQLITE_PARTS[1:]):
            yield path


def _parts(path: Path) -> list[Path]:
    """The files of one entry: a request cache with its -wal/-shm/-journal files, else the entry itself."""
    return [path.with_name(path.name + p) for p in _SQLITE_PARTS] if path.name == REQUESTS else [path]


def classify(path: Path, folder: Path, recipe: Recipe | None, current: set[Path],
             unknown: dict[str, str]) -> CacheEntry:
    """The `CacheEntry` of one entry under the recipe's cache folder `folder`."""
    size = sum(disk_size(part) for part in _parts(path))
    if path.name == REQUESTS:
        return CacheEntry(path, LABELS["requests"], size, note="kept (`factory clean --requests` removes it)")
    owner = _leftover_owner(path)
    if owner is not None:
        if is_locked(owner):
            return CacheEntry(path, LABELS["leftover"], size, note=f"kept: {owner} is being written")
        if ".old-" in path.name and not os.path.lexists(owner):
            why = f"{owner.name} is missing: restored as {owner.name}"
            return CacheEntry(path, LABELS["leftover"], size, stale=why)
        return CacheEntry(path, LABELS["leftover"], size, stale=f"left by an interrupted write of {owner.name}")
    kind = _kind_of(path.relative_to(folder).parts)
    label = LABELS[kind]
    if kind == "unknown":
        return CacheEntry(path, label, size, note="kept (not made by a stage)")
    if recipe is None:
        return CacheEntry(path, label, size, stale=f"recipe {folder.name} is not in params.yaml")
    if kind in unknown:
        return CacheEntry(path, label, size, note=f"kept ({unknown[kind]})")
    if path in current:
        return CacheEntry(path, label, size, note="current")
    return CacheEntry(path, label, size, stale="not the current fingerprint")


def cache_entries(root: Path, recipes: dict[str, Recipe]) -> list[CacheEntry]:
    """Every entry under <root>/cache/, classified against the current `recipes` (by recipe name)."""
    base = Layout(root).cache_root
    entries: list[CacheEntry] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        recipe = recipes.get(folder.name)
        busy = writer_busy(Path(root), folder.name)
        current, unknown = current_folders(recipe, Path(root)) if recipe and not busy else (set(), {})
        for path in _entries_of(folder):
            entry = classify(path, folder, recipe, current, unknown)
            if busy:
                entry.stale, entry.note, entry.in_use = None, f"kept ({busy})", True
            entries.append(entry)
    return entries


def remove_entry(entry: CacheEntry, base: Path) -> None:
    """Remove one entry (a request cache with its -wal/-shm files; a leftover tidied like the
    next write would), then its train/ or grid/ and recipe folders if that left them empty."""
    owner = _leftover_owner(entry.path)
    if owner is not None:
        with folder_lock(owner):
            recover_swap(owner)
    else:
        for path in _parts(entry.path):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif os.path.lexists(path):
                path.unlink()
    for parent in (entry.path.parent, entry.path.parent.parent):
        if parent != base and parent.is_relative_to(base) and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def current_recipes(params: Path = Path("params.yaml")) -> dict[str, Recipe]:
    """The recipes params.yaml lists, by recipe name (the name of their cache folder)."""
    from factory.recipe import load_params, load_recipe, recipe_path

    loaded = load_params(params)
    return {recipe.name: recipe for recipe in (load_recipe(recipe_path(n, loaded)) for n in loaded.recipes)}


def clean(root: Path, recipes: dict[str, Recipe], *, requests: bool = False, dry_run: bool = False) -> list[str]:
    """Remove the stale cache entries (and request caches with `requests`); one line per entry, then a total."""
    base = Layout(root).cache_root
    entries = cache_entries(root, recipes)
    chosen = [e for e in entries if e.removable or (requests and e.kind == LABELS["requests"] and not e.in_use)]
    verb = "would remove" if dry_run else "removed"
    lines, done = [], []
    for entry in chosen:
        if not dry_run:
            busy = writer_busy(Path(root), entry.path.relative_to(base).parts[0])  # a stage started meanwhile?
            try:
                if busy:
                    raise FactoryError(busy)
                remove_entry(entry, base)
            except FactoryError as exc:
                lines.append(f"clean: kept {entry.path} ({exc})")
                continue
        done.append(entry)
        why = entry.stale or "asked by --requests"
        action = verb.replace("remove", "restore") if "restored as" in why else verb
        lines.append(f"clean: {action} {entry.path} ({human_size(entry.size)}; {entry.kind}: {why})")
    chosen = done
    freed = human_size(sum(e.size for e in chosen))
    lines.append(f"clean: {verb} {len(chosen)} of {len(entries)} entries under {base}, {freed}; "
                 f"kept {len(entries) - len(chosen)} (see `factory status --cache`)")
    return lines
