"""The SQLite schema as numbered migrations (``PRAGMA user_version`` holds the number)."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterator

import sqlite_utils

from agentdeck.engine.errors import StoreError
from agentdeck.engine.store import logchunks

# The tasks table as migration 1 created it (frozen: later columns come by migration).
_V1_TASK_COLUMNS: dict[str, type] = {
    "id": str, "prompt": str, "repo": str, "agent": str, "title": str, "runtime": str,
    "endpoint": str, "priority": int, "not_before": float, "timeout": float, "state": str,
    "review": str, "exit_code": int, "error": str, "attempt": int, "batch_id": str,
    "base_commit": str, "result_commit": str, "include_uncommitted": int, "workdir": str,
    "sandbox_ref": str, "cursor": str, "created_at": float, "started_at": float,
    "finished_at": float, "lines_added": int, "lines_removed": int, "files_changed": int,
    "tokens_in": int, "tokens_out": int, "cost_usd": float, "session_id": str,
    "question": str, "follow_up": str, "unsafe": str,
    "requested": str,     # a cross-process request for the driving engine ("cancel")
    "updated_at": float,  # lets other processes see what changed
}
TASK_COLUMNS: dict[str, type] = {**_V1_TASK_COLUMNS, "budget_usd": float, "group_id": str,
                                "approved_at": float, "paths": str, "test_result": str,
                                "test_summary": str}


def _m1_initial(db: sqlite_utils.Database) -> None:
    db["tasks"].create(_V1_TASK_COLUMNS, pk="id", not_null={"prompt", "repo", "state"})
    db["tasks"].create_index(["state", "priority", "created_at"])
    db["tasks"].create_index(["batch_id"])
    db["tasks"].create_index(["created_at"])
    db["tasks"].create_index(["updated_at"])
    # A rowid table appends at the end of the b-tree; only the small index takes the
    # interleaved inserts of many tasks (a WITHOUT ROWID table split pages at every task).
    db.execute(
        "CREATE TABLE logs (task_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL,"
        " attempt INTEGER NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,"
        " data TEXT)"
    )
    db.execute("CREATE UNIQUE INDEX logs_task_seq ON logs (task_id, seq)")
    db["attempts"].create(
        {"task_id": str, "attempt": int, "prompt": str, "state": str, "exit_code": int,
         "error": str, "started_at": float, "finished_at": float, "result_commit": str},
        pk=("task_id", "attempt"),
    )
    db["batches"].create(
        {"id": str, "name": str, "created_at": float, "not_before": float, "budget_usd": float},
        pk="id",
    )
    db["lease"].create(
        {"id": int, "owner": str, "host": str, "pid": int, "pid_started": float,
         "expires_at": float},
        pk="id",
    )
    db["settings"].create({"key": str, "value": str}, pk="key")


def _m2_task_budget(db: sqlite_utils.Database) -> None:
    db["tasks"].add_column("budget_usd", float)


def _m3_provider_pauses(db: sqlite_utils.Database) -> None:
    """A provider's rate-limit pause (until epoch seconds) outlives the engine."""
    db.execute("CREATE TABLE provider_pauses (provider TEXT PRIMARY KEY, until REAL NOT NULL)")


def _m4_lease_epoch(db: sqlite_utils.Database) -> None:
    # Counts the takes of the lease by a new owner: the fence of a driving engine's writes.
    db["lease"].add_column("epoch", int, not_null_default=0)


def _m5_review_comments(db: sqlite_utils.Database) -> None:
    """Comments on a task's diff lines, and each "request changes" with the result
    commit it reviewed (the base of the next review's interdiff)."""
    db.execute(
        "CREATE TABLE comments (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, path TEXT NOT NULL, line INTEGER NOT NULL,"
        " end_line INTEGER NOT NULL, quote TEXT NOT NULL, text TEXT NOT NULL,"
        " created_at REAL NOT NULL, sent_in INTEGER)")
    db.execute("CREATE INDEX comments_task ON comments (task_id, attempt)")
    db.execute(
        "CREATE TABLE change_requests (task_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
        " reviewed_commit TEXT NOT NULL, message TEXT, excluded TEXT NOT NULL,"
        " created_at REAL NOT NULL, PRIMARY KEY (task_id, attempt))")


def _m6_task_groups(db: sqlite_utils.Database) -> None:
    """Best-of-N: the tasks that run one prompt as a group of attempts share a group id."""
    db["tasks"].add_column("group_id", str)
    db["tasks"].create_index(["group_id"])


def _m7_task_approval(db: sqlite_utils.Database) -> None:
    """When the reviewer approved a task for the merge queue (`land`)."""
    db["tasks"].add_column("approved_at", float)


def _m8_log_chunks(db: sqlite_utils.Database) -> None:
    """Task logs packed into compressed chunks (see `logchunks`); existing logs are
    converted."""
    logchunks.create_tables(db.conn)
    for (task_id,) in db.conn.execute("SELECT DISTINCT task_id FROM logs").fetchall():
        logchunks.seal(db.conn, task_id)


def _m10_task_tests(db: sqlite_utils.Database) -> None:
    """The repo's tests run on a finished change (`core.task_tests`): their result and a
    one-line summary."""
    db["tasks"].add_column("test_result", str)
    db["tasks"].add_column("test_summary", str)


def _m9_task_paths(db: sqlite_utils.Database) -> None:
    """The paths a task checks out (sparse), a JSON list; NULL: the whole repo."""
    db["tasks"].add_column("paths", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m1_initial, _m2_task_budget, _m3_provider_pauses, _m4_lease_epoch,
    _m5_review_comments, _m6_task_groups, _m7_task_approval, _m8_log_chunks,
    _m9_task_paths, _m10_task_tests,
]


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database up to the newest schema; returns the version it is now at.

    All steps run in one ``BEGIN IMMEDIATE`` transaction that first reads the version: two
    processes opening a fresh data dir at once take turns (the second waits on the busy
    timeout, then finds the schema made) instead of both creating the tables.

    Raises:
        StoreError: the database (at ``path``) is newer than this agentdeck.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return len(MIGRATIONS)  # the usual open: no write lock taken
    with immediate(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the database {path} has schema version {version}, newer than this "
                f"agentdeck ({len(MIGRATIONS)}): upgrade agentdeck", "newer", str(path))
        db = sqlite_utils.Database(conn)
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction (the write lock taken at once, waiting on the
    busy timeout): committed at the end, rolled back on an error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite rolls some failures back itself (a full disk)
            conn.execute("ROLLBACK")
        raise
