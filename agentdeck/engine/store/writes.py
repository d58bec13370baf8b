"""Write operations on the agentdeck database, run on the store's writer thread.

Each function returns an operation ``fn(conn)`` for `Store.write`/`Store.awrite`, which runs
it inside one ``BEGIN IMMEDIATE`` transaction: the compare-and-set of a state change and
its check against the state machine happen in that same transaction.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any, Callable, Sequence

from agentdeck.engine.errors import IllegalTransition, LeaseLost, NotFound
from agentdeck.engine.models import Batch, ReviewState, Task, TaskState
from agentdeck.engine.store.db import MODEL_FIELDS, TASK_FIELDS, row_to_task, task_to_row

def insert_tasks(tasks: Sequence[Task], batch: Batch | None = None) -> Callable[[sqlite3.Connection], None]:
    """All tasks (and their batch) in one transaction: nothing is half-submitted."""
    def op(conn: sqlite3.Connection) -> None:
        if batch is not None:
            conn.execute("INSERT INTO batches VALUES (?,?,?,?,?)",
                         (batch.id, batch.name, batch.created_at, batch.not_before, batch.budget_usd))
        cols = TASK_FIELDS
        sql = f"INSERT INTO tasks ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
        conn.executemany(sql, [[task_to_row(t).get(c) for c in cols] for t in tasks])
    return op


def update_task(task_id: str, *, expect: Sequence[TaskState] | None = None,
                expect_review: Sequence[ReviewState] | None = None,
                **fields: Any) -> Callable[[sqlite3.Connection], Task]:
    """Compare-and-set update of a task row; returns the stored snapshot.

    A ``state``/``review`` in ``fields`` is checked against the state machine, so an illegal
    transition raises `IllegalTransition` and nothing is written.
    """
    def op(conn: sqlite3.Connection) -> Task:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        conn.row_factory = None
        if row is None:
            raise NotFound(f"no task with id {task_id!r}")
        current = row_to_task(row)
        _check(current, expect, expect_review, fields)
        values = {k: (v.value if isinstance(v, (TaskState, ReviewState)) else v)
                  for k, v in fields.items()}
        values["updated_at"] = time.time()
        if "include_uncommitted" in values:
            values["include_uncommitted"] = int(values["include_uncommitted"])
        if values:
            sets = ", ".join(f"{k}=?" for k in values)
            conn.execute(f"UPDATE tasks SET {sets} WHERE id=?", [*values.values(), task_id])
        return current.with_(**{k: v for k, v in fields.items() if k in MODEL_FIELDS})
    return op


def _check(current: Task, expect: Sequence[TaskState] | None,
           expect_review: Sequence[ReviewState] | None, fields: dict[str, Any]) -> None:
    if expect is not None and current.state not in expect:
        wanted = "/".join(s.value for s in expect)
        raise IllegalTransition(
            f"task {current.id} is {current.state.value}, not {wanted}")
    if expect_review is not None and current.review not in expect_review:
        wanted = "/".join(s.value for s in expect_review)
        raise IllegalTransition(
            f"task {current.id} review is {current.review.value}, not {wanted}")
    if "state" in fields and fields["state"] != current.state:
        current.state.check_transition(TaskState(fields["state"]))
    if "review" in fields and fields["review"] != current.review:
        current.review.check_transition(ReviewState(fields["review"]))


def record_attempt(task_id: str, attempt: int, **fields: Any) -> Callable[[sqlite3.Connection], None]:
    """Insert or update the history row of one attempt."""
    def op(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR IGNORE INTO attempts (task_id, attempt) VALUES (?,?)",
                     (task_id, attempt))
        if fields:
            sets = ", ".join(f"{k}=?" for k in fields)
            conn.execute(f"UPDATE attempts SET {sets} WHERE task_id=? AND attempt=?",
                         [*fields.values(), task_id, attempt])
    return op


def set_setting(key: str, value: Any) -> Callable[[sqlite3.Connection], None]:
    def op(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT OR REPLACE INTO settings VALUES (?,?)", (key, json.dumps(value)))
    return op


def pause_provider(provider: str, until: float) -> Callable[[sqlite3.Connection], None]:
    """Hold ``provider``'s tasks until ``until`` (epoch seconds); a longer stored pause
    stays. Pauses that have ended are dropped."""
    def op(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM provider_pauses WHERE until <= ?", (time.time(),))
        conn.execute("INSERT INTO provider_pauses VALUES (?,?) ON CONFLICT (provider) "
                     "DO UPDATE SET until = max(until, excluded.until)", (provider, until))
    return op


def pid_started(pid: int) -> float | None:
    """Start time of a process, to tell a live owner from a reused pid."""
    try:
        import psutil
        return psutil.Process(pid).create_time()
    except Exception:
        return None


def take_lease(owner: str, ttl: float) -> Callable[[sqlite3.Connection], int | None]:
    """Take (or renew) the single queue-driving lease: its epoch, or None if a live engine
    holds it.

    A take by a new owner increments the epoch. The connection that takes the lease (the
    store's writer) is fenced with that epoch in the same transaction (`_fence`).
    """
    host = os.uname().nodename
    pid = os.getpid()

    def op(conn: sqlite3.Connection) -> int | None:
        now = time.time()
        row = conn.execute("SELECT owner, host, pid, pid_started, expires_at, epoch"
                           " FROM lease WHERE id=1").fetchone()
        if row is not None and row[0] != owner and row[4] > now:
            same_host_dead = row[1] == host and pid_started(row[2]) != row[3]
            if not same_host_dead:
                return None
        epoch = (row[5] if row else 0) + (0 if row and row[0] == owner else 1)
        conn.execute("INSERT OR REPLACE INTO lease (id, owner, host, pid, pid_started,"
                     " expires_at, epoch) VALUES (1,?,?,?,?,?,?)",
                     (owner, host, pid, pid_started(pid), now + ttl, epoch))
        _fence(conn, epoch)
        return epoch
    return op


def release_lease(owner: str) -> Callable[[sqlite3.Connection], None]:
    """Let the lease go (it expires now); the row and its epoch stay for the next taker."""
    def op(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE lease SET expires_at=0 WHERE id=1 AND owner=?", (owner,))
    return op


def fenced(op: Callable[[sqlite3.Connection], Any],
           epoch: int | None) -> Callable[[sqlite3.Connection], Any]:
    """``op``, run only while the lease still has ``epoch`` (checked in its transaction);
    None: not a driving engine's write, nothing to check.

    Raises:
        LeaseLost: another engine process has taken the lease since.
    """
    if epoch is None:
        return op

    def checked(conn: sqlite3.Connection) -> Any:
        row = conn.execute("SELECT epoch FROM lease WHERE id=1").fetchone()
        if row is None or row[0] != epoch:
            raise LeaseLost("another agentdeck process took over the queue: this one "
                            "no longer runs tasks (try again)")
        return op(conn)
    return checked


#: Writes of a fenced connection that are dropped once its epoch is stale.
_STALE = ("EXISTS (SELECT 1 FROM temp.lease_fence"
          " WHERE epoch IS NOT (SELECT epoch FROM main.lease WHERE id=1))")
_FENCE_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS lease_fence (epoch INTEGER NOT NULL)",
    *(f"CREATE TEMP TRIGGER IF NOT EXISTS fence_{name} BEFORE {event} WHEN {_STALE}"
      " BEGIN SELECT RAISE(IGNORE); END"
      for name, event in (("log_insert", "INSERT ON main.logs"),
                          ("log_update", "UPDATE ON main.logs"),
                          ("log_delete", "DELETE ON main.logs"),
                          ("chunk_insert", "INSERT ON main.log_chunks"),
                          ("chunk_update", "UPDATE ON main.log_chunks"),
                          ("cursor", "UPDATE OF cursor ON main.tasks"))),
)


def _fence(conn: sqlite3.Connection, epoch: int) -> None:
    """Fence the log rows, log chunks and runtime cursors this connection writes with
    ``epoch``.

    They are written in batches by the store's writer (`Store.append_logs`), not through
    an op that `fenced` could wrap, so triggers of this connection's TEMP schema drop each
    row once another engine has taken the lease: a holder that stalled past its lease and
    resumed cannot interleave its lines with the new holder's, nor move its cursor.
    """
    for sql in _FENCE_SQL:
        conn.execute(sql)
    conn.execute("DELETE FROM temp.lease_fence")
    conn.execute("INSERT INTO temp.lease_fence VALUES (?)", (epoch,))


def then(first: Callable[[sqlite3.Connection], Any],
         *more: Callable[[sqlite3.Connection], Any]) -> Callable[[sqlite3.Connection], Any]:
    """``first`` and then ``more`` in one transaction; returns what ``first`` returned."""
    def op(conn: sqlite3.Connection) -> Any:
        result = first(conn)
        for step in more:
            step(conn)
        return result
    return op
