"""Where the factory writes: atomic files and folders, marked as its own, locked, recoverable.

- `atomic_file(path)` and `atomic_dir(path)` build beside `path` and rename over it only on
  success. What they create gets the modes a plain open() or mkdir() would give under the
  current umask (not the 0600/0700 of mkstemp/mkdtemp), so colleagues can read a release.
- Every folder `atomic_dir` makes holds a marker file `.factory-made` naming what made it.
  A folder the user names (`--dry-run DIR`, `--out DIR`: `user_folder=True`) is replaced
  only when it is missing, empty or marked by the same command, unless `overwrite`. A
  stage's own output (`data/<stage>/<recipe>`, the default) is replaced whatever it holds,
  since older versions made those folders without a marker. A folder that is, or contains,
  the working directory, the data root (`./data` and any of `roots`), the checkout
  of this package, the home folder or `/` is never replaced, not even with `overwrite`.
- While a folder is written, `.<name>.lock` beside it is held (`fcntl.flock`) and names
  its writer (pid, host, command, start time). A second writer of the same folder stops
  at once with `FactoryError` (exit 2) naming the first: the lock is held for the whole
  build, which can take hours, so waiting would look like a hang and then redo the work.
- The swap exchanges the two folders in one step (Linux `renameat2(RENAME_EXCHANGE)`), so
  `path` never goes missing. Where that is unavailable it takes two renames, and a writer
  killed between them leaves `.<name>.old-<pid>`: the next writer of `path` restores it
  when `path` is missing and removes it otherwise, and removes `.<name>.tmp-*` folders of
  writers that died (a live writer holds the lock, so no one else touches its folder).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import glob
import json
import os
import secrets
import shutil
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

from factory.core.errors import FactoryError

MARKER = ".factory-made"
"""File inside every folder `atomic_dir` makes; its first line names what made it."""
DEFAULT_MAKER = "detox-factory"
_PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]


def lock_path(path: Path) -> Path:
    """The lock file of output `path`: `.<name>.lock` beside it."""
    return Path(path).parent / f".{Path(path).name}.lock"


def read_holder(path: Path) -> dict[str, Any] | None:
    """Who holds (or last held) the lock of `path`: pid, host, command, since; None if unknown."""
    try:
        holder = json.loads(lock_path(path).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def describe_holder(holder: dict[str, Any] | None) -> str:
    """`pid 12 on host (factory filter toxify) since 2025-01-01T10:00:00`, or `another process`."""
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('command')}) since {holder.get('since')}"


def _open_lock(lock: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file: flock works on a read-only descriptor too
        return os.open(lock, os.O_RDONLY)


def _try_lock(lock: Path) -> int | None:
    """A descriptor holding the flock of `lock` (the file at that path now), or None if held elsewhere."""
    while True:
        fd = _open_lock(lock)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            mine = os.fstat(fd)
            current = os.stat(lock)
            if (mine.st_ino, mine.st_dev) == (current.st_ino, current.st_dev):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed the file after we opened it: lock the new one


def _command() -> str:
    """This process's command line as typed: `factory filter recipes/tiny/toxify.yaml`."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    name = {"__main__.py": "factory", "-c": "python -c"}.get(name, name)  # python -m factory; python -c
    return " ".join([name, *sys.argv[1:]])[:300]


def _write_holder(fd: int) -> None:
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
              "since": datetime.now().isoformat(timespec="seconds")}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """Hold the lock of output `path` while the block runs; `FactoryError` if another process holds it."""
    path = Path(path)
    lock = lock_path(path)
    fd = _try_lock(lock)
    if fd is None:
        raise FactoryError(f"{path}: is being written by {describe_holder(read_holder(path))}; "
                           "wait for that run to finish (or stop it), then run again")
    try:
        _write_holder(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink(missing_ok=True)  # while still holding it, so no one else locks the old file
        os.close(fd)


def is_locked(path: Path) -> bool:
    """True while some process writes output `path` (holds its lock)."""
    if not lock_path(path).exists():
        return False
    try:
        with folder_lock(path):
            return False
    except FactoryError:
        return True


def protected_folders(roots: Sequence[Path] = ()) -> list[tuple[str, Path]]:
    """Folders no output may be, or contain: /, home, working directory, data roots, this checkout."""
    found = [("filesystem root", Path("/")), ("working directory", Path.cwd()), ("data root", Path("data"))]
    found += [("data root", Path(root)) for root in roots]
    with contextlib.suppress(RuntimeError, KeyError):
        found.append(("home folder", Path.home()))
    if (_PACKAGE_CHECKOUT / "pyproject.toml").is_file():
        found.append(("repository", _PACKAGE_CHECKOUT))
    return found


def refuse_protected(path: Path, roots: Sequence[Path] = ()) -> None:
    """`FactoryError` if `path` is, or contains, a folder of `protected_folders(roots)`."""
    target = Path(path).resolve()
    for what, folder in protected_folders(roots):
        if folder.resolve().is_relative_to(target):
            raise FactoryError(f"{path}: refusing to write an output here: it is or contains the {what} ({folder}); "
                               "name a new folder instead")


def made_by(folder: Path) -> str | None:
    """What made `folder` (the first line of its marker file), or None when it has no marker."""
    try:
        return (Path(folder) / MARKER).read_text(encoding="utf-8").splitlines()[0].strip() or DEFAULT_MAKER
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def same_folder(a: Path, b: Path) -> bool:
    """True when `a` and `b` name the same folder (after resolving `..` and symlinks)."""
    return Path(a).resolve() == Path(b).resolve()


def check_replaceable(path: Path, *, maker: str, user_folder: bool, overwrite: bool = False,
                      roots: Sequence[Path] = ()) -> None:
    """Refuse (`FactoryError`) to replace `path` unless the factory may: see the module docstring."""
    refuse_protected(path, roots)
    if not user_folder or overwrite or not os.path.lexists(path):
        return
    if not path.is_dir():
        raise FactoryError(f"{path}: refusing to replace this file with a folder; "
                           "name another folder, or pass --overwrite to replace it")
    entries = sum(1 for _ in path.iterdir())
    maker_found = made_by(path)
    if entries == 0 or maker_found == maker:
        return
    what = (f"it was made by {maker_found}" if maker_found else
            f"the factory did not make it (no {MARKER} file; {entries} entr{'y' if entries == 1 else 'ies'})")
    raise FactoryError(f"{path}: refusing to replace this folder: {what}; "
                       "name another folder, or pass --overwrite to replace it")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def leftovers(path: Path, kind: str) -> list[Path]:
    """`.<name>.<kind>-*` entries beside `path` (kind `tmp`: unfinished builds; `old`: cut-short swaps)."""
    pattern = f".{glob.escape(Path(path).name)}.{kind}-*"
    return sorted(Path(path).parent.glob(pattern), key=lambda p: p.lstat().st_ctime)


def recover_swap(path: Path) -> None:
    """Undo what a killed writer of `path` left: restore `.<name>.old-*` when `path` is missing
    (else remove it) and remove `.<name>.tmp-*`. Call only while holding `folder_lock(path)`."""
    path = Path(path)
    olds = leftovers(path, "old")
    if olds and not os.path.lexists(path):
        os.replace(olds.pop(), path)
    for stale in olds + leftovers(path, "tmp"):
        _remove(stale)


@functools.lru_cache(maxsize=1)
def _renameat2() -> Any:
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return func


def exchange(a: Path, b: Path) -> bool:
    """Swap the entries `a` and `b` in one atomic step; False where the OS or filesystem cannot."""
    func = _renameat2()
    if func is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(tmp: Path, path: Path) -> None:
    """Put the finished folder `tmp` at `path` and remove what was there."""
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    if exchange(tmp, path):
        _remove(tmp)
        return
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    os.replace(path, old)
    os.replace(tmp, path)  # a kill before this line leaves `old`, which `recover_swap` restores
    _remove(old)


def _fresh_dir(path: Path) -> Path:
    """An empty folder `.<name>.tmp-<pid>-<random>` beside `path`, mode as mkdir gives under the umask."""
    while True:
        tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_dir(path: Path, *, maker: str = DEFAULT_MAKER, user_folder: bool = False, overwrite: bool = False,
               roots: Sequence[Path] = ()) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; swap it in for `path` only on success.

    `maker` is written to the folder's marker file. With `user_folder` (a folder the user
    named), an existing folder not made by `maker` is refused unless `overwrite`. `roots`
    are data roots the output must not be or contain. Holds the folder's lock throughout;
    a stage killed half-way leaves the previous `path` untouched, and the next run removes
    its temporary folder.
    """
    path = Path(os.path.normpath(path))
    refuse_protected(path, roots)
    path.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(path):
        recover_swap(path)
        check_replaceable(path, maker=maker, user_folder=user_folder, overwrite=overwrite, roots=roots)
        tmp = _fresh_dir(path)
        try:
            yield tmp
            (tmp / MARKER).write_text(f"{maker}\n", encoding="utf-8")
            swap_in(tmp, path)
        finally:
            if os.path.lexists(tmp):
                _remove(tmp)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only on success.

    The temporary file is created with the mode open() gives under the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
