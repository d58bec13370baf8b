"""Task logs packed into chunks on a real SQLite file: reads across chunks and the tail,
the size on disk, the conversion of a database made before chunks, updates and dupes."""
from __future__ import annotations

import base64
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from agentdeck.engine.models import EntryKind, LogEntry, Stream, Task
from agentdeck.engine.store import db as st
from agentdeck.engine.store import logchunks
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.schema import MIGRATIONS


@contextmanager
def opened(path: Path) -> Iterator[st.Store]:
    store = st.Store(path)
    try:
        yield store
    finally:
        store.close()


def entries(task_id: str, first: int, count: int) -> list[LogEntry]:
    """Lines of random text (compression cannot hide what the packing costs)."""
    return [LogEntry(task_id, seq, 1_700_000_000 + seq / 1000, 1,
                     Stream.STDERR if seq % 7 == 0 else Stream.STDOUT,
                     EntryKind.RAW, f"{seq} " + "é" * (seq % 5) + base64.b64encode(
                         random.Random(seq).randbytes(54)).decode(),
                     {"n": seq} if seq % 11 == 0 else None)
            for seq in range(first, first + count)]


def write(store: st.Store, batches: list[list[LogEntry]]) -> None:
    for batch in batches:
        store.append_logs(batch)
        store.flush()


def test_reads_by_range_and_from_the_end_span_chunks_and_the_tail(tmp_path: Path) -> None:
    with opened(tmp_path / "db.sqlite3") as store:
        store.write_sync(wr.insert_tasks([Task(id="t", prompt="p", repo="/r")]))
        flood = entries("t", 1, 3 * logchunks.CHUNK_LINES + 5)   # straight into chunks
        trickle = [entries("t", len(flood) + i, 1) for i in range(1, 11)]  # the tail
        write(store, [flood, *trickle])
        every = flood + [e for batch in trickle for e in batch]
        assert store.get_logs("t", limit=None) == every
        assert store.get_logs("t", after_seq=500, limit=30) == every[500:530]
        assert store.get_logs("t", after_seq=1000, before_seq=1600, limit=None) == every[1000:1599]
        assert store.get_logs("t", limit=20, newest=True) == every[-20:]
        assert store.get_logs("t", before_seq=600, limit=100, newest=True) == every[499:599]
        assert store.last_seq("t") == len(every) and store.log_count("t") == len(every)


def test_a_log_takes_little_more_than_its_text_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    texts = 0
    with opened(path) as store:
        for first in range(1, 40_001, 100):  # ten tasks, interleaved in runs of 100
            batch = entries(f"task{first // 100 % 10}", first // 1000 * 100 + first % 100 + 1,
                            100)
            texts += sum(len(e.text.encode()) + 1 for e in batch)
            store.append_logs(batch)
        store.flush()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert path.stat().st_size <= 1.3 * texts


def test_a_database_made_before_chunks_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if m.__name__.endswith("_log_chunks")))
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for step in MIGRATIONS[:before]:
        step(db)
    conn.execute(f"PRAGMA user_version = {before}")
    old = entries("t", 1, 700) + entries("u", 1, 3)
    conn.executemany("INSERT INTO logs VALUES (?,?,?,?,?,?,?,?)",
                     [e._replace(data=None) for e in old])
    conn.close()
    with opened(path) as store:
        assert store.get_logs("t", limit=None) == [e._replace(data=None) for e in old[:700]]
        assert [e.text for e in store.get_logs("u", limit=None)] == [e.text for e in old[700:]]
        assert store.read(lambda c: c.execute("SELECT COUNT(*) FROM logs").fetchone()[0]) == 0


def test_an_entry_is_updated_in_its_chunk_and_a_repeated_seq_is_ignored(tmp_path: Path) -> None:
    with opened(tmp_path / "db.sqlite3") as store:
        write(store, [entries("t", 1, 600)])
        store.write_sync(lambda c: logchunks.update_entry(c, "t", 42, "now this", {"k": 1}))
        write(store, [entries("t", 590, 20)])  # 590..599 again, then 600..609 new
        logs = store.get_logs("t", limit=None)
        assert [e.seq for e in logs] == list(range(1, 610))
        assert (logs[41].text, logs[41].data) == ("now this", {"k": 1})
        assert logs[589] == entries("t", 590, 1)[0]


def test_a_quiet_tail_is_sealed_and_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with opened(path) as store:
        write(store, [entries("t", i, 1) for i in range(1, 6)])
        assert store.read(lambda c: c.execute("SELECT COUNT(*) FROM logs").fetchone()[0]) == 5
        deadline = time.monotonic() + logchunks.SEAL_IDLE + 30
        while store.read(lambda c: c.execute("SELECT COUNT(*) FROM logs").fetchone()[0]):
            assert time.monotonic() < deadline, "the quiet tail was never sealed"
            time.sleep(0.1)
        assert store.get_logs("t", limit=None) == entries("t", 1, 5)


def test_an_attempts_last_errors_are_found_in_chunks_too(tmp_path: Path) -> None:
    with opened(tmp_path / "db.sqlite3") as store:
        first = entries("t", 1, 600)  # attempt 1: stderr every 7th line
        second = [e._replace(attempt=2) for e in entries("t", 601, 600)]
        write(store, [first, second])
        errors = [e.text for e in second if e.stream == Stream.STDERR]
        assert store.stderr_tail("t", 2, 5) == errors[-5:]
        assert store.stderr_tail("t", 1, 200) == [e.text for e in first
                                                  if e.stream == Stream.STDERR]


def test_a_line_another_process_stored_meanwhile_is_not_stored_again(tmp_path: Path) -> None:
    """Two stores on one file (two engine processes): what one knew of the newest seq must
    not outlive the other's writes, in the tail or when a batch is sealed into chunks."""
    path = tmp_path / "db.sqlite3"
    with opened(path) as first, opened(path) as second:
        first.write_sync(wr.insert_tasks([Task(id="t", prompt="p", repo="/r")]))
        write(first, [entries("t", 1, 3)])
        write(second, [entries("t", 4, 7)])
        write(first, [entries("t", 4, logchunks.CHUNK_LINES)])  # 4..10 again, then new ones
        seqs = [e.seq for e in first.get_logs("t")]
    assert seqs == list(range(1, 4 + logchunks.CHUNK_LINES))
