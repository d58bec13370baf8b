"""SQLite storage: one writer thread with one connection, reads on per-thread connections.

Writes go through a queue to the writer thread (datasette's pattern). Log entries are
buffered and written in batches — one transaction per ~50 ms or per `LOG_BATCH` rows,
whichever comes first — together with the runtime cursor of the batch, so the stored log
and the resume position always agree. Any other write first flushes pending log rows, so
a task's final state is never stored before its last lines.

Nothing a caller or the disk does stops the writer thread. A write whose caller gives up
(cancelled) before the writer begins it is skipped; once begun it is committed. A known
SQLite failure (disk full, locked, corrupt, read-only) is raised as a `StoreError`; log
rows that meet one stay pending and are tried again, and `Store.on_problem` is told.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from agentdeck.engine.errors import NotFound, StoreError
from agentdeck.engine.models import (
    OPEN_REVIEWS, Batch, EntryKind, LogEntry, ReviewState, Stream, Task, TaskState,
)
from agentdeck.engine.config.paths import PRIVATE_FILE, private_dir, private_file
from agentdeck.engine.store import logchunks
from agentdeck.engine.store.schema import TASK_COLUMNS, immediate, migrate
from agentdeck.engine.store.errors import translated

log = logging.getLogger(__name__)
T = TypeVar("T")

#: `Task.reviewable` in SQL: the attempt is over and the review is open.
_WAITING = (f"review IN ({', '.join(repr(r.value) for r in sorted(OPEN_REVIEWS))}) AND "
            f"state NOT IN ({', '.join(repr(s.value) for s in TaskState if s.is_active)})")

LOG_BATCH = 5000
#: Seconds a connection waits for a lock another process holds.
BUSY_TIMEOUT = 30.0
FLUSH_INTERVAL = 0.05
#: Seconds between tries to save log rows while the database cannot be written.
RETRY_INTERVAL = 1.0

TASK_FIELDS = list(TASK_COLUMNS)
MODEL_FIELDS = set(Task.__dataclass_fields__)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with our pragmas. ``isolation_level=None``: we manage transactions.

    It waits up to `BUSY_TIMEOUT` for a lock another process holds (then SQLITE_BUSY).
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT)
    try:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-32000")
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database to WAL (it stays so), retrying while another process does.

    Two processes switching a fresh file at once both hold a shared lock and want the
    exclusive one: SQLite refuses one of them at once, without the busy timeout (waiting
    would deadlock). The refused one retries after its statement let go of its lock.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def row_to_task(row: sqlite3.Row | dict[str, Any]) -> Task:
    values = {k: row[k] for k in TASK_FIELDS if k in MODEL_FIELDS}
    values["state"] = TaskState(values["state"])
    values["review"] = ReviewState(values["review"])
    values["include_uncommitted"] = bool(values["include_uncommitted"])
    for key in ("title", "endpoint", "runtime", "agent"):
        values[key] = values[key] or ""
    for key in ("lines_added", "lines_removed", "files_changed", "tokens_in", "tokens_out"):
        values[key] = values[key] or 0
    values["cost_usd"] = values["cost_usd"] or 0.0
    values["paths"] = tuple(json.loads(values["paths"])) if values.get("paths") else ()
    return Task(**values)


def task_to_row(task: Task) -> dict[str, Any]:
    row = task.to_dict()
    row["updated_at"] = time.time()
    row["include_uncommitted"] = int(task.include_uncommitted)
    row["paths"] = json.dumps(list(task.paths)) if task.paths else None
    return row


@dataclass
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    future: Future


#: Queued to make the writer save pending log rows now (a big batch is waiting).
_SAVE_LOGS = object()

#: Called on the writer thread when writing starts failing for a known condition (the
#: `StoreError`) and again with None once everything pending is saved.
ProblemHandler = Callable[[StoreError | None], None]


def _reads(method: Callable[..., T]) -> Callable[..., T]:
    """A read whose known SQLite failure (corrupt, locked...) is raised as a `StoreError`."""
    @functools.wraps(method)
    def read(self: "Store", *args: Any, **kwargs: Any) -> T:
        with translated(self.path):
            return method(self, *args, **kwargs)
    return read


class Store:
    """The agentdeck database. Thread-safe; async wrappers live on `agentdeck.engine.api.Engine`.

    Attributes:
        on_problem: Told when writes start failing for a known condition (disk full,
            locked...) and when they work again; see `ProblemHandler`.

    Raises:
        StoreError: the database cannot be opened (corrupt, read-only, locked, newer).
    """

    def __init__(self, path: Path, on_problem: ProblemHandler | None = None) -> None:
        self.path = Path(path)
        self.on_problem = on_problem
        conn, self._tails = self._open()
        self._local = threading.local()
        self._ops: queue.Queue[_Op | object | None] = queue.Queue()
        self._pending_logs: list[LogEntry] = []
        self._pending_cursors: dict[str, str] = {}
        self._logs_queued = 0    # entries ever handed to append_logs
        self._logs_written = 0   # of those, committed (or dropped by a bug)
        self._lock = threading.Lock()
        self._closed = False
        self._problem: StoreError | None = None
        self._retry_at = 0.0
        self._writer = threading.Thread(target=self._run_writer, args=(conn,),
                                        name="agentdeck-store", daemon=True)
        self._writer.start()

    def _open(self) -> tuple[sqlite3.Connection, logchunks.Tails]:
        """The writer's connection, to a database made private and migrated, and what
        it finds of the tasks' log tails."""
        with translated(self.path):
            _make_private(self.path)
            conn = connect(self.path)
            try:
                migrate(conn, str(self.path))
                return conn, logchunks.Tails(conn)
            except BaseException:
                conn.close()
                raise

    # ---- writer side -------------------------------------------------------------------
    def _run_writer(self, conn: sqlite3.Connection) -> None:
        """Serve ops until `close`. Nothing an op or a write does ends this thread."""
        try:
            while (op := self._next_op(conn)) is not None:
                if op is _SAVE_LOGS:
                    self._save_logs(conn)
                else:
                    self._apply(conn, op)
        finally:
            if self._save_logs(conn, now=True) is not None:
                log.error("%d log entries were not saved: %s", len(self._pending_logs),
                          self._problem)
            else:
                self._seal(conn, self._tails.unsealed())
            conn.close()

    def _next_op(self, conn: sqlite3.Connection) -> _Op | object | None:
        """The next queued op; pending log rows are saved while none comes."""
        while True:
            try:
                return self._ops.get(timeout=FLUSH_INTERVAL)
            except queue.Empty:
                if self._save_logs(conn) is None:
                    self._seal(conn, self._tails.idle(time.monotonic()))

    def _seal(self, conn: sqlite3.Connection, task_ids: list[str]) -> None:
        """Pack these tasks' tails into chunks (see `logchunks`)."""
        if not task_ids:
            return
        try:
            self._transaction(conn, lambda c: [logchunks.seal(c, t) for t in task_ids])
        except StoreError:
            return  # reported; tried again at the next idle moment
        self._tails.sealed(task_ids)

    def _apply(self, conn: sqlite3.Connection, op: _Op) -> None:
        # From here on the op can no longer be cancelled: its caller may stop waiting
        # (its asyncio future is cancelled, this one is not), so the result set below is
        # always accepted. One cancelled before is skipped: its caller was told so.
        if not op.future.set_running_or_notify_cancel():
            return
        try:
            if (problem := self._save_logs(conn)) is not None:
                # Not stored before the pending lines: a task's end never precedes its log.
                raise StoreError(str(problem), problem.kind, problem.path)
            result = self._transaction(conn, op.fn)
        except BaseException as exc:  # delivered to the caller, never kills the writer
            op.future.set_exception(exc)
        else:
            op.future.set_result(result)

    def _transaction(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in one transaction; a known failure is a `StoreError`, remembered
        as the store's problem until a write succeeds with no log rows left pending."""
        try:
            with translated(self.path), immediate(conn):
                result = fn(conn)
        except StoreError as exc:
            self._retry_at = time.monotonic() + RETRY_INTERVAL
            self._report(exc)
            raise
        if self._problem is not None:
            with self._lock:
                saved = not self._pending_logs
            if saved:
                self._report(None)
        return result

    def _save_logs(self, conn: sqlite3.Connection, now: bool = False) -> StoreError | None:
        """Commit the pending log rows with their cursors; the problem if they are not.

        Rows that hit a known condition (disk full) stay pending, in order, and are tried
        again `RETRY_INTERVAL` later (or ``now``): an entry `append_logs` took is kept
        while this process lives, and its runtime's cursor does not pass it.
        """
        if self._problem is not None and not now and time.monotonic() < self._retry_at:
            return self._problem
        with self._lock:
            entries, self._pending_logs = self._pending_logs, []
            cursors, self._pending_cursors = self._pending_cursors, {}
        if not entries and not cursors:
            return None
        try:
            noted = self._transaction(conn, self._insert_logs(entries, cursors))
        except StoreError as exc:
            with self._lock:
                self._pending_logs[:0] = entries
                self._pending_cursors = {**cursors, **self._pending_cursors}
            return exc
        except Exception:  # a bug (an unstorable value): kept, the writer would stop
            log.exception("dropped %d log entries that could not be stored", len(entries))
        else:
            noted()
        with self._lock:
            self._logs_written += len(entries)
        return None

    def _insert_logs(self, entries: list[LogEntry], cursors: dict[str, str]
                     ) -> Callable[[sqlite3.Connection], Callable[[], None]]:
        def op(conn: sqlite3.Connection) -> Callable[[], None]:
            noted = self._tails.write(conn, entries, time.monotonic())
            conn.executemany("UPDATE tasks SET cursor=? WHERE id=?",
                             [(c, t) for t, c in cursors.items()])
            return noted
        return op

    def _report(self, problem: StoreError | None) -> None:
        """Tell `on_problem` when writing starts failing, changes why, or works again."""
        before, self._problem = self._problem, problem
        if (before and before.kind) == (problem and problem.kind):
            return
        if problem is not None:
            log.error("%s", problem)
        if self.on_problem is not None:
            try:
                self.on_problem(problem)
            except Exception:
                log.exception("the store's problem handler failed")

    def append_logs(self, entries: Sequence[LogEntry], cursor: tuple[str, str] | None = None) -> None:
        """Queue entries (and the task's new runtime cursor) for the next batched write."""
        with self._lock:
            self._pending_logs.extend(entries)
            self._logs_queued += len(entries)
            if cursor is not None:
                self._pending_cursors[cursor[0]] = cursor[1]
            big = len(self._pending_logs) >= LOG_BATCH
        if big:
            self._ops.put(_SAVE_LOGS)

    @property
    def log_backlog(self) -> int:
        """Log entries queued by `append_logs` and not yet committed: what a producer
        faster than the disk (or a full one) piles up in memory (readers of a flood
        wait on it)."""
        return self._logs_queued - self._logs_written

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Future:
        """Run ``fn(conn)`` in one transaction on the writer thread (after pending logs)."""
        if self._closed:
            raise RuntimeError("store is closed")
        fut: Future = Future()
        self._ops.put(_Op(fn, fut))
        return fut

    def write_sync(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return self.write(fn).result()

    async def awrite(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """`write`, awaited. Cancelling the caller cancels the write only if the writer
        has not begun it yet."""
        return await asyncio.wrap_future(self.write(fn))

    def flush(self) -> None:
        """Block until everything queued so far is committed."""
        self.write_sync(lambda conn: None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ops.put(None)
        self._writer.join()
        self._refuse_late_ops()

    def _refuse_late_ops(self) -> None:
        """Ops a `write` racing `close` queued behind the end: failed, not left waiting."""
        while True:
            try:
                op = self._ops.get_nowait()
            except queue.Empty:
                return
            if isinstance(op, _Op) and op.future.set_running_or_notify_cancel():
                op.future.set_exception(RuntimeError("store is closed"))

    # ---- reads -------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @_reads
    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the read ``fn(conn)`` on this thread's read connection (rows as
        `sqlite3.Row`), for read functions kept beside their tables' writes."""
        return fn(self._reader())

    @_reads
    def get_task(self, task_id: str) -> Task:
        row = self._reader().execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"no task with id {task_id!r}")
        return row_to_task(row)

    @_reads
    def get_cursor(self, task_id: str) -> str | None:
        row = self._reader().execute("SELECT cursor FROM tasks WHERE id=?", (task_id,)).fetchone()
        return row[0] if row else None

    @_reads
    def find_task_ids(self, prefix: str) -> list[str]:
        rows = self._reader().execute(
            "SELECT id FROM tasks WHERE id LIKE ? LIMIT 3", (prefix.replace("%", "") + "%",))
        return [r[0] for r in rows]

    @_reads
    def list_tasks(self, *, state: Iterable[str] | str | None = None, repo: str | None = None,
                   batch_id: str | None = None, group_id: str | None = None,
                   search: str | None = None, created_since: float | None = None,
                   limit: int | None = None, order: str = "created_at DESC",
                   review: Iterable[str] | None = None) -> list[Task]:
        where, args = [], []
        if review:
            reviews = list(review)
            where.append(f"review IN ({','.join('?' * len(reviews))})")
            args += reviews
        if state:
            states = [state] if isinstance(state, str) else list(state)
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += [s.value if isinstance(s, TaskState) else s for s in states]
        if repo:
            where.append("repo=?"); args.append(repo)
        if batch_id:
            where.append("batch_id=?"); args.append(batch_id)
        if group_id:
            where.append("group_id=?"); args.append(group_id)
        if created_since is not None:
            where.append("created_at>=?"); args.append(created_since)
        if search:
            where.append("(title LIKE ? OR prompt LIKE ? OR id LIKE ?)")
            args += [f"%{search}%"] * 3
        sql = "SELECT * FROM tasks" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += f" ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit else "")
        return [row_to_task(r) for r in self._reader().execute(sql, args)]

    @_reads
    def ready_tasks(self, now: float, limit: int) -> list[Task]:
        """Queued tasks whose start time has come, in the order they should start."""
        rows = self._reader().execute(
            "SELECT * FROM tasks WHERE state='queued' AND (not_before IS NULL OR not_before <= ?)"
            " ORDER BY priority DESC, created_at ASC LIMIT ?", (now, limit))
        return [row_to_task(r) for r in rows]

    @_reads
    def get_logs(self, task_id: str, *, after_seq: int = 0, before_seq: int | None = None,
                 limit: int | None = 1000, newest: bool = False) -> list[LogEntry]:
        """Entries with after_seq < seq < before_seq, ordered by seq; ``newest`` takes the
        last ``limit`` of that range instead of the first."""
        return logchunks.read_range(self._reader(), task_id, after_seq, before_seq, limit,
                                    newest)

    @_reads
    def stderr_tail(self, task_id: str, attempt: int, count: int) -> list[str]:
        """The last ``count`` lines the attempt's agent wrote on stderr or reported as
        errors (agentdeck's own notes left out: the task's error says what it saw)."""
        entries = logchunks.last_matching(
            self._reader(), task_id, attempt, lambda e: e.stream == Stream.STDERR or (
                e.kind == EntryKind.ERROR and e.stream != Stream.SYSTEM), count)
        return [e.text for e in entries]

    @_reads
    def find_group_ids(self, prefix: str) -> list[str]:
        """Best-of-N group ids starting with ``prefix`` (at most 3)."""
        rows = self._reader().execute(
            "SELECT DISTINCT group_id FROM tasks WHERE group_id LIKE ? LIMIT 3",
            (prefix.replace("%", "").replace("_", "") + "%",))
        return [r[0] for r in rows]

    @_reads
    def last_seq(self, task_id: str) -> int:
        return logchunks.last_seq(self._reader(), task_id)

    @_reads
    def log_count(self, task_id: str) -> int:
        return logchunks.count(self._reader(), task_id)

    @_reads
    def counts(self) -> dict[str, int]:
        rows = self._reader().execute("SELECT state, COUNT(*) FROM tasks GROUP BY state")
        out = {s.value: 0 for s in TaskState}
        out.update({r[0]: r[1] for r in rows})
        out["review_pending"] = self._reader().execute(
            f"SELECT COUNT(*) FROM tasks WHERE {_WAITING}").fetchone()[0]
        return out

    @_reads
    def waiting_for_review(self) -> list[Task]:
        """Every task whose change waits for the user's decision (`Task.reviewable`)."""
        return [row_to_task(r) for r in self._reader().execute(
            f"SELECT * FROM tasks WHERE {_WAITING}")]

    @_reads
    def changed_times(self) -> dict[str, float]:
        """Each task's last change (``updated_at``, epoch seconds), by id."""
        return dict(self._reader().execute("SELECT id, updated_at FROM tasks"))

    @_reads
    def list_batches(self) -> list[Batch]:
        rows = self._reader().execute("SELECT * FROM batches ORDER BY created_at DESC")
        return [Batch(r["id"], r["name"], r["created_at"], r["not_before"], r["budget_usd"])
                for r in rows]

    @_reads
    def batch_progress(self, batch_id: str) -> dict[str, int]:
        rows = self._reader().execute(
            "SELECT state, COUNT(*) FROM tasks WHERE batch_id=? GROUP BY state", (batch_id,))
        by_state = {r[0]: r[1] for r in rows}
        done = sum(by_state.get(s.value, 0) for s in TaskState if s.is_terminal)
        return {
            "total": sum(by_state.values()), "done": done,
            "failed": by_state.get("failed", 0) + by_state.get("timed_out", 0),
            "running": sum(by_state.get(s, 0) for s in ("preparing", "running", "needs_input")),
            "queued": by_state.get("queued", 0),
        }

    @_reads
    def batch_budget(self, batch_id: str, but: str = "") -> tuple[float | None, float]:
        """The batch's budget and the stored cost of its tasks (all but task ``but``)."""
        conn = self._reader()
        row = conn.execute("SELECT budget_usd FROM batches WHERE id=?", (batch_id,)).fetchone()
        spent = conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM tasks"
                             " WHERE batch_id=? AND id<>?", (batch_id, but)).fetchone()[0]
        return (row[0] if row else None), spent

    @_reads
    def attempts(self, task_id: str) -> list[dict[str, Any]]:
        rows = self._reader().execute(
            "SELECT * FROM attempts WHERE task_id=? ORDER BY attempt", (task_id,))
        return [dict(r) for r in rows]

    @_reads
    def changed_since(self, since: float) -> list[tuple[Task, float]]:
        """Tasks whose row changed after ``since`` (by any process), with ``updated_at``."""
        rows = self._reader().execute(
            "SELECT * FROM tasks WHERE updated_at > ? ORDER BY updated_at", (since,))
        return [(row_to_task(r), r["updated_at"]) for r in rows]

    @_reads
    def pending_requests(self) -> list[tuple[str, str]]:
        rows = self._reader().execute(
            "SELECT id, requested FROM tasks WHERE requested IS NOT NULL")
        return [(r[0], r[1]) for r in rows]

    @_reads
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._reader().execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def provider_pauses(self, now: float) -> dict[str, float]:
        """Providers paused by a rate limit beyond ``now``: when each pause ends."""
        rows = self._reader().execute(
            "SELECT provider, until FROM provider_pauses WHERE until > ?", (now,))
        return dict(rows.fetchall())


def _make_private(path: Path) -> None:
    """The database readable by its owner only, in a dir only its owner can enter.

    The file is created 0600 before SQLite opens it: SQLite gives its -wal, -shm and
    -journal files the database file's mode. Those left by an older version are tightened.
    """
    private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        # Only tightened, never created: an engine using this database removes and makes
        # these itself, and an empty -wal made here would hide its commits from readers.
        try:
            os.chmod(path.with_name(path.name + suffix), PRIVATE_FILE)
        except FileNotFoundError:
            pass


def db_path(home: Path) -> Path:
    return Path(home) / "agentdeck.sqlite3"
