"""Task logs on disk: recent lines as rows, older ones packed into compressed chunks.

A row per line costs more than the line (its task id, stream, kind, an index entry):
about 2.2× the raw text. So a task's lines are kept as rows in ``logs`` (its *tail*) only
until `CHUNK_LINES` of them are there, or the task has been quiet for `SEAL_IDLE`
seconds; then they are *sealed*: packed into one ``log_chunks`` row per `CHUNK_LINES`
lines (seq and time deltas, codes, lengths, then the texts, zlib-compressed) and deleted
from the tail. A flood's batch skips the tail and goes into chunks at once. A chunk's
key is (task, last seq); every sealed seq is older than every tail seq.

Reads (by seq range, from either end) run in one read transaction: a seal between two
statements cannot hide or repeat lines.
"""
from __future__ import annotations

import json
import sqlite3
import struct
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice, takewhile
from typing import Any

from agentdeck.engine.models import EntryKind, LogEntry, Stream

#: Lines per sealed chunk (and the tail length that seals a task's lines).
CHUNK_LINES = 512
#: Seconds a task's tail may stay unsealed after its last line.
SEAL_IDLE = 2.0
#: zlib level of chunks: sealing costs ≈ 1 ms per chunk at this level.
_LEVEL = 6

_STREAMS = list(Stream)
_KINDS = list(EntryKind)
_COUNT = struct.Struct("<I")
_TAIL_COLUMNS = "task_id, seq, ts, attempt, stream, kind, text, data"


def create_tables(conn: sqlite3.Connection) -> None:
    """The chunk table (the tail is the ``logs`` table of migration 1)."""
    conn.execute("CREATE TABLE log_chunks (task_id TEXT NOT NULL, first_seq INTEGER NOT NULL,"
                 " last_seq INTEGER NOT NULL, entries INTEGER NOT NULL, body BLOB NOT NULL)")
    conn.execute("CREATE UNIQUE INDEX log_chunks_task_seq ON log_chunks (task_id, last_seq)")


# ---- packing -------------------------------------------------------------------------

def pack(entries: Sequence[LogEntry]) -> bytes:
    """One chunk's body: the entries' fields as arrays, then their texts and data."""
    seqs = array("q", (e.seq for e in entries))
    micros = array("q", (round(e.ts * 1e6) for e in entries))
    seq_deltas = array("q", [seqs[0]] + [b - a for a, b in zip(seqs, seqs[1:])])
    ts_deltas = array("q", [micros[0]] + [b - a for a, b in zip(micros, micros[1:])])
    attempts = array("q", (e.attempt for e in entries))
    codes = array("B", (_STREAMS.index(e.stream) << 4 | _KINDS.index(e.kind) for e in entries))
    texts = [e.text.encode("utf-8", "surrogatepass") for e in entries]
    datas = [b"" if e.data is None else json.dumps(e.data, ensure_ascii=False,
                                                   default=str).encode() for e in entries]
    lengths = array("I", [*map(len, texts), *map(len, datas)])
    raw = b"".join([_COUNT.pack(len(entries)), seq_deltas.tobytes(), ts_deltas.tobytes(),
                    attempts.tobytes(), codes.tobytes(), lengths.tobytes(), *texts, *datas])
    return zlib.compress(raw, _LEVEL)


def unpack(task_id: str, body: bytes) -> list[LogEntry]:
    """The entries of a chunk `pack` made, in seq order."""
    raw = zlib.decompress(body)
    (n,) = _COUNT.unpack_from(raw)
    pos = _COUNT.size

    def take(typecode: str, count: int) -> array:
        nonlocal pos
        values = array(typecode)
        size = values.itemsize * count
        values.frombytes(raw[pos:pos + size])
        pos += size
        return values

    seqs, micros, attempts = _running(take("q", n)), _running(take("q", n)), take("q", n)
    codes, lengths = take("B", n), take("I", 2 * n)
    fields: list[bytes] = []
    for length in lengths:
        fields.append(raw[pos:pos + length])
        pos += length
    return [LogEntry(task_id, seqs[i], micros[i] / 1e6, attempts[i],
                     _STREAMS[codes[i] >> 4], _KINDS[codes[i] & 15],
                     fields[i].decode("utf-8", "surrogatepass"),
                     json.loads(fields[n + i]) if fields[n + i] else None)
            for i in range(n)]


def _running(deltas: array) -> list[int]:
    total, out = 0, []
    for delta in deltas:
        total += delta
        out.append(total)
    return out


# ---- writes (on the writer thread, inside its transaction) ----------------------------

def insert_chunks(conn: sqlite3.Connection, task_id: str, entries: Sequence[LogEntry]) -> None:
    """Store ``entries`` (in seq order) as chunks of up to `CHUNK_LINES`."""
    conn.executemany(
        "INSERT INTO log_chunks VALUES (?,?,?,?,?)",
        [(task_id, part[0].seq, part[-1].seq, len(part), pack(part))
         for start in range(0, len(entries), CHUNK_LINES)
         if (part := entries[start:start + CHUNK_LINES])])


def seal(conn: sqlite3.Connection, task_id: str, more: Sequence[LogEntry] = ()) -> None:
    """Move the task's tail, then ``more`` (newer), into chunks."""
    tail = [_row_entry(r) for r in conn.execute(
        f"SELECT {_TAIL_COLUMNS} FROM logs WHERE task_id=? ORDER BY seq", (task_id,))]
    if tail:
        conn.execute("DELETE FROM logs WHERE task_id=?", (task_id,))
    insert_chunks(conn, task_id, [*tail, *more])


class Tails:
    """What the writer thread knows of each task's tail: its lines and when it last grew.
    An entry at or below the newest seq stored is a duplicate (as a row's unique key made
    it before chunks)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        # Tails a previous process left: sealed at the first idle moment.
        self._count: dict[str, int] = dict(
            conn.execute("SELECT task_id, COUNT(*) FROM logs GROUP BY task_id"))
        self._touched: dict[str, float] = {}

    def write(self, conn: sqlite3.Connection, entries: Sequence[LogEntry],
              now: float) -> Callable[[], None]:
        """Store ``entries``: into the tail, or sealed with it once it would reach
        `CHUNK_LINES`. Returns what to note once the transaction is committed."""
        by_task: dict[str, list[LogEntry]] = {}
        for entry in entries:
            by_task.setdefault(entry.task_id, []).append(entry)
        noted: dict[str, int] = {}
        for task_id, new in by_task.items():
            # Read in this write transaction, never cached: another process may have
            # stored the task's lines since (a holder that took the queue over from this
            # one, which then took it back), and a line is stored once.
            top = last_seq(conn, task_id)
            fresh = []
            for entry in new:
                if entry.seq > top:
                    fresh.append(entry)
                    top = entry.seq
            lines = self._count.get(task_id, 0) + len(fresh)
            if lines >= CHUNK_LINES:
                seal(conn, task_id, fresh)
                lines = 0
            elif fresh:
                conn.executemany("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?)",
                                 map(_bound, fresh))
            noted[task_id] = lines

        def note() -> None:
            for task_id, lines in noted.items():
                self._count[task_id] = lines
                self._touched[task_id] = now
        return note

    def idle(self, now: float) -> list[str]:
        """Tasks whose unsealed tail has not grown for `SEAL_IDLE` seconds."""
        return [task_id for task_id, lines in self._count.items()
                if lines and self._touched.get(task_id, 0.0) < now - SEAL_IDLE]

    def unsealed(self) -> list[str]:
        return [task_id for task_id, lines in self._count.items() if lines]

    def sealed(self, task_ids: Sequence[str]) -> None:
        for task_id in task_ids:
            self._count[task_id] = 0


def _bound(e: LogEntry) -> LogEntry | tuple:
    """A LogEntry binds as it is, except structured data, which is stored as JSON."""
    if e.data is None:
        return e
    return e._replace(data=json.dumps(e.data, ensure_ascii=False, default=str))


def update_entry(conn: sqlite3.Connection, task_id: str, seq: int, text: str,
                 data: Any) -> None:
    """Replace one entry's text and data, in the tail or in its chunk."""
    cursor = conn.execute("UPDATE logs SET text=?, data=? WHERE task_id=? AND seq=?",
                          (text, json.dumps(data), task_id, seq))
    if cursor.rowcount:
        return
    row = conn.execute("SELECT rowid, body FROM log_chunks WHERE task_id=? AND last_seq>=?"
                       " AND first_seq<=? ORDER BY last_seq LIMIT 1", (task_id, seq, seq)).fetchone()
    if row is None:
        return
    entries = [e._replace(text=text, data=data) if e.seq == seq else e
               for e in unpack(task_id, row[1])]
    conn.execute("UPDATE log_chunks SET body=? WHERE rowid=?", (pack(entries), row[0]))


# ---- reads ---------------------------------------------------------------------------

def read_range(conn: sqlite3.Connection, task_id: str, after_seq: int,
               before_seq: int | None, limit: int | None, newest: bool) -> list[LogEntry]:
    """Entries with after_seq < seq < before_seq in seq order; the first (or, with
    ``newest``, the last) ``limit`` of them."""
    before = before_seq if before_seq is not None else 1 << 62
    with _snapshot(conn):
        out = list(islice(_entries(conn, task_id, after_seq, before, newest), limit or None))
    return out[::-1] if newest else out


def last_matching(conn: sqlite3.Connection, task_id: str, attempt: int,
                  keep: Callable[[LogEntry], bool], count: int) -> list[LogEntry]:
    """The attempt's last ``count`` entries that ``keep`` takes, in seq order (the
    scan stops at the attempt's start: attempts follow each other in seq)."""
    with _snapshot(conn):
        newest = takewhile(lambda e: e.attempt >= attempt,
                           _entries(conn, task_id, 0, 1 << 62, newest=True))
        out = list(islice((e for e in newest if e.attempt == attempt and keep(e)), count))
    return out[::-1]


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: the tail and the chunks as of one moment."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _entries(conn: sqlite3.Connection, task_id: str, after: int, before: int,
             newest: bool) -> Iterator[LogEntry]:
    """after < seq < before, oldest first (chunks, then the tail) or newest first."""
    if newest:
        yield from _tail(conn, task_id, after, before, newest)
        yield from _chunked(conn, task_id, after, before, newest)
    else:
        yield from _chunked(conn, task_id, after, before, newest)
        yield from _tail(conn, task_id, after, before, newest)


def _tail(conn: sqlite3.Connection, task_id: str, after: int, before: int,
          newest: bool) -> Iterator[LogEntry]:
    order = "DESC" if newest else ""
    for row in conn.execute(f"SELECT {_TAIL_COLUMNS} FROM logs WHERE task_id=? AND seq>?"
                            f" AND seq<? ORDER BY seq {order}", (task_id, after, before)):
        yield _row_entry(row)


def _chunked(conn: sqlite3.Connection, task_id: str, after: int, before: int,
             newest: bool) -> Iterator[LogEntry]:
    order = "DESC" if newest else ""
    rows = conn.execute(f"SELECT body FROM log_chunks WHERE task_id=? AND last_seq>?"
                        f" AND first_seq<? ORDER BY last_seq {order}", (task_id, after, before))
    for (body,) in rows:
        entries = [e for e in unpack(task_id, body) if after < e.seq < before]
        yield from (reversed(entries) if newest else entries)


def last_seq(conn: sqlite3.Connection, task_id: str) -> int:
    row = conn.execute(
        "SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM logs WHERE task_id=:t),"
        " (SELECT COALESCE(MAX(last_seq), 0) FROM log_chunks WHERE task_id=:t))",
        {"t": task_id}).fetchone()
    return row[0]


def count(conn: sqlite3.Connection, task_id: str) -> int:
    row = conn.execute(
        "SELECT (SELECT COUNT(*) FROM logs WHERE task_id=:t)"
        " + (SELECT COALESCE(SUM(entries), 0) FROM log_chunks WHERE task_id=:t)",
        {"t": task_id}).fetchone()
    return row[0]


def _row_entry(r: Sequence[Any]) -> LogEntry:
    return LogEntry(r[0], r[1], r[2], r[3], Stream(r[4]), EntryKind(r[5]), r[6],
                    json.loads(r[7]) if r[7] else None)
