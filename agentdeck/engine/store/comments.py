"""The tables of review comments and change requests: writes (operations for
`Store.awrite`) and reads (functions for `Store.read`)."""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from agentdeck.engine.models import Comment

_COLUMNS = ("id", "task_id", "attempt", "path", "line", "end_line", "quote", "text",
            "created_at", "sent_in")


@dataclass(frozen=True)
class ChangeRequest:
    """One "request changes": the follow-up attempt it queued and what it reviewed.

    Attributes:
        task_id: The task.
        attempt: The attempt the follow-up runs as.
        reviewed_commit: The result commit the reviewer looked at.
        message: The reviewer's message, if any.
        excluded: What the reviewer left out (``PATH`` or ``PATH#N``).
        created_at: When (epoch seconds).
    """

    task_id: str
    attempt: int
    reviewed_commit: str
    message: str | None
    excluded: tuple[str, ...]
    created_at: float


def insert_comment(task_id: str, attempt: int, path: str, line: int, end_line: int,
                   quote: str, text: str) -> Callable[[sqlite3.Connection], Comment]:
    """Store one comment; the operation returns it with its id."""
    now = time.time()

    def op(conn: sqlite3.Connection) -> Comment:
        cur = conn.execute(
            "INSERT INTO comments (task_id, attempt, path, line, end_line, quote, text,"
            " created_at) VALUES (?,?,?,?,?,?,?,?)",
            (task_id, attempt, path, line, end_line, quote, text, now))
        return Comment(int(cur.lastrowid or 0), task_id, attempt, path, line, end_line,
                       quote, text, now)
    return op


def record_request(task_id: str, reviewed_commit: str, message: str | None,
                   excluded: Sequence[str], comment_ids: Sequence[int]
                   ) -> Callable[[sqlite3.Connection], None]:
    """Store a change request for the task's attempt now in the row (run it in the
    transaction that queued that attempt) and mark its comments as sent in it."""
    def op(conn: sqlite3.Connection) -> None:
        attempt = conn.execute("SELECT attempt FROM tasks WHERE id=?", (task_id,)).fetchone()[0]
        conn.execute("INSERT INTO change_requests VALUES (?,?,?,?,?,?)",
                     (task_id, attempt, reviewed_commit, message, json.dumps(list(excluded)),
                      time.time()))
        conn.executemany("UPDATE comments SET sent_in=? WHERE id=?",
                         [(attempt, cid) for cid in comment_ids])
    return op


def comments(task_id: str, attempt: int | None = None
             ) -> Callable[[sqlite3.Connection], list[Comment]]:
    """The task's comments (only those on ``attempt``'s diff if given), oldest first."""
    def read(conn: sqlite3.Connection) -> list[Comment]:
        sql = f"SELECT {','.join(_COLUMNS)} FROM comments WHERE task_id=?"
        args: list[Any] = [task_id]
        if attempt is not None:
            sql += " AND attempt=?"
            args.append(attempt)
        rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [Comment(*tuple(row)) for row in rows]
    return read


def last_request(task_id: str) -> Callable[[sqlite3.Connection], ChangeRequest | None]:
    """The task's latest change request, if it had one."""
    def read(conn: sqlite3.Connection) -> ChangeRequest | None:
        row = conn.execute(
            "SELECT task_id, attempt, reviewed_commit, message, excluded, created_at"
            " FROM change_requests WHERE task_id=? ORDER BY attempt DESC LIMIT 1",
            (task_id,)).fetchone()
        if row is None:
            return None
        return ChangeRequest(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5])
    return read

