"""SQLite failures a user can act on, told apart from bugs.

A locked, corrupt, read-only or full database is a condition of the user's machine, not a
bug: `translated` turns the SQLite (or file) error into a `StoreError` whose one line names
the database and what to do. Any other error (a constraint, a bad statement) is left as it
is: that is agentdeck's bug.
"""
from __future__ import annotations

import errno
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agentdeck.engine.errors import StoreError

#: SQLite's primary result codes (the low byte of an extended code) by condition.
_KINDS: dict[int, str] = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_BUSY: "locked", sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_CORRUPT: "corrupt", sqlite3.SQLITE_NOTADB: "corrupt",
    sqlite3.SQLITE_READONLY: "readonly", sqlite3.SQLITE_CANTOPEN: "readonly",
    sqlite3.SQLITE_PERM: "readonly",
    sqlite3.SQLITE_IOERR: "io",
}
_ERRNO_KINDS: dict[int, str] = {
    errno.ENOSPC: "full", errno.EDQUOT: "full",
    errno.EROFS: "readonly", errno.EACCES: "readonly", errno.EPERM: "readonly",
}


def classify(exc: BaseException, path: Path) -> StoreError | None:
    """The `StoreError` that ``exc``, raised using the database at ``path``, stands for;
    None when it is not one of the known conditions (a bug)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _KINDS.get(code & 0xFF) if code is not None else None
        detail = str(exc)
    elif isinstance(exc, OSError):
        kind = _ERRNO_KINDS.get(exc.errno or 0)
        detail = exc.strerror or str(exc)
    else:
        return None
    return None if kind is None else StoreError(_message(kind, path, detail), kind, str(path))


def _message(kind: str, path: Path, detail: str) -> str:
    if kind == "full":
        return (f"disk full at {path}: free some space on that disk (log lines not saved "
                "yet are kept and saved once there is room)")
    if kind == "locked":
        return (f"the database {path} is locked by another process: close what holds it "
                "(another agentdeck, a database browser) and try again")
    if kind == "corrupt":
        return (f"the database {path} is corrupt ({detail}): move it aside to start with an "
                "empty history, or put back a backup of it")
    if kind == "readonly":
        return (f"cannot write the database {path} ({detail}): make {path.parent} writable, "
                "or set AGENTDECK_HOME to a directory you can write")
    return f"cannot read or write the database {path} ({detail}): check that disk"


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Inside, an error of a known condition of the database at ``path`` is raised as its
    `StoreError` (chained to the original); any other error passes unchanged."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        error = classify(exc, path)
        if error is None:
            raise
        raise error from exc
