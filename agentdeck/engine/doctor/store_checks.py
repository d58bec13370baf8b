"""The data dir (writable, free space) and the database (schema version, integrity).

The database is opened read-only and never migrated: doctor must work on a database the
engine cannot open (corrupt, newer, on a read-only disk) and change nothing in it.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agentdeck.engine.doctor.checks import Check, Status, ok, problem
from agentdeck.engine.store.db import db_path
from agentdeck.engine.store.errors import classify
from agentdeck.engine.store.schema import MIGRATIONS

GROUP = "data"
#: Below this much free space a warning, below `LOW_SPACE_FAIL` a failure.
LOW_SPACE_WARN = 2 << 30
LOW_SPACE_FAIL = 200 << 20
#: What the engine reads from the settings table to decide what the user needs.
SETTINGS = ("default_runtime", "docker_endpoints")
_ACTIVE = ("queued", "preparing", "running")


@dataclass
class StoreFacts:
    """What the database says about the user's setup (empty when it cannot be read)."""

    checks: list[Check] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    active_agents: set[str] = field(default_factory=set)


def check_data_dir(home: Path) -> list[Check]:
    """The data dir can be written (a file is made and removed) and has room (blocking)."""
    where = _existing(home)
    try:
        fd, name = tempfile.mkstemp(prefix=".doctor-", dir=where)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        checks = [Check(GROUP, "data dir", Status.FAIL,
                        f"{home} cannot be written ({exc.strerror or exc})",
                        f"make {where} writable, or set AGENTDECK_HOME to a directory you own")]
    else:
        made = "" if where == home else f" (not made yet; {where} is writable)"
        checks = [ok(GROUP, "data dir", f"{home}{made}")]
    return checks + [_free_space(where)]


def _existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _free_space(where: Path) -> Check:
    free = shutil.disk_usage(where).free
    detail = f"{free / (1 << 30):.1f} GiB free on the disk of {where}"
    if free >= LOW_SPACE_WARN:
        return ok(GROUP, "free space", detail)
    return problem(GROUP, "free space", detail,
                   "free some space on that disk (task logs and working copies live there)",
                   needed=free < LOW_SPACE_FAIL)


def check_database(home: Path) -> StoreFacts:
    """Schema version and integrity of the database, and the settings it holds (blocking)."""
    path = db_path(home)
    if not path.exists():
        return StoreFacts([ok(GROUP, "database", f"{path} does not exist yet (made on first start)")])
    try:
        return _read(path)
    except (sqlite3.Error, OSError) as exc:
        return StoreFacts([_unreadable(path, exc)])


def _read(path: Path) -> StoreFacts:
    conn = _connect_read_only(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        facts = StoreFacts([_version(path, version)])
        if problems != ["ok"]:
            facts.checks.append(Check(
                GROUP, "database integrity", Status.FAIL,
                f"{path} is damaged: {'; '.join(problems[:3])}", _corrupt_fix(path)))
            return facts
        facts.checks.append(ok(GROUP, "database integrity", "quick_check: ok"))
        if version:
            facts.settings = _settings(conn)
            facts.active_agents = {row[0] for row in conn.execute(
                f"SELECT DISTINCT agent FROM tasks WHERE state IN ({','.join('?' * len(_ACTIVE))})",
                _ACTIVE)}
        return facts
    finally:
        conn.close()


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Read-only; on a read-only disk a WAL database opens only as immutable."""
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.execute("PRAGMA user_version")
        return conn
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK) and not _read_only_mount(path):
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True)


def _read_only_mount(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _version(path: Path, version: int) -> Check:
    newest = len(MIGRATIONS)
    if version > newest:
        return Check(GROUP, "database schema", Status.FAIL,
                     f"{path} has schema version {version}, newer than this agentdeck ({newest})",
                     "upgrade agentdeck (or open the data dir with the version that made it)")
    if version < newest:
        return ok(GROUP, "database schema",
                  f"version {version}; migrated to {newest} when agentdeck next opens it")
    return ok(GROUP, "database schema", f"version {version} (current)")


def _settings(conn: sqlite3.Connection) -> dict[str, Any]:
    rows = conn.execute(f"SELECT key, value FROM settings WHERE key IN "
                        f"({','.join('?' * len(SETTINGS))})", SETTINGS)
    return {key: json.loads(value) for key, value in rows}


def _unreadable(path: Path, exc: BaseException) -> Check:
    error = classify(exc, path)
    kind = error.kind if error is not None else "unknown"
    if kind == "corrupt":
        return Check(GROUP, "database integrity", Status.FAIL,
                     f"{path} is corrupt ({exc})", _corrupt_fix(path))
    if kind == "locked":
        return Check(GROUP, "database", Status.WARN, f"{path} is locked ({exc})",
                     "run doctor again when the process holding it (a database browser) is done")
    return Check(GROUP, "database", Status.FAIL, f"{path} cannot be read ({exc})",
                 f"check the permissions of {path} and the disk it is on")


def _corrupt_fix(path: Path) -> str:
    return (f"move it aside to start with an empty history (mv {path} {path}.broken), "
            "or put back a backup of it")
