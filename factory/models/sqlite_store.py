"""One way to open the project's SQLite caches (request cache, Perspective score cache)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from factory.core.errors import FactoryError


def open_store(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """Open (creating) the SQLite file `path` in WAL mode with `schema`, usable from any thread.

    A file that cannot be opened is a `FactoryError` naming `what` and the file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except sqlite3.Error as error:
        raise FactoryError(f"{what} {path}: cannot open ({error}); delete the file to start afresh") from None
    return db
