"""A really full disk under the database (a 2 MiB tmpfs, filled up): the store says "disk
full at <path>", keeps every log line it took, and saves them once there is room (the
engine on a full disk, through `agentdeck run`, is tests/faults/test_fault_disk_full.py).

Mounting needs root; elsewhere these tests are skipped. ``HANG`` only bounds waits that,
before the fix, never ended (the writer thread had died on SQLITE_FULL).
"""
from __future__ import annotations

import time

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.errors import StoreError
from agentdeck.engine.models import EntryKind, LogEntry, Stream, Task
from tests.smalldisk import fill

HANG = 30.0
PAD = "x" * 200  # lines big enough that a batch of them needs new room in the WAL


def _entries(first: int, count: int) -> list[LogEntry]:
    return [LogEntry("t1", seq, time.time(), 1, Stream.STDOUT, EntryKind.RAW, f"{seq} {PAD}")
            for seq in range(first, first + count)]


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_full_disk_keeps_the_lines_taken_and_says_so_until_there_is_room(small_disk):
    path = small_disk / "db.sqlite3"
    problems: list[StoreError | None] = []
    store = st.Store(path)
    store.on_problem = problems.append
    try:
        store.write_sync(wr.insert_tasks([Task(id="t1", prompt="p", repo="/r")]))
        store.append_logs(_entries(1, 100), ("t1", "cursor-100"))
        store.flush()
        filler = fill(small_disk)

        store.append_logs(_entries(101, 3000), ("t1", "cursor-3100"))
        with pytest.raises(StoreError) as caught:
            store.write(lambda conn: None).result(HANG)  # what flush() does, bounded
        assert caught.value.kind == "full"
        assert str(caught.value).startswith(f"disk full at {path}: free some space")
        with pytest.raises(StoreError, match="disk full at"):  # the writer still answers
            store.write_sync(wr.set_setting("later", 1))
        assert store.log_count("t1") == 100, "reads go on"
        assert store.get_cursor("t1") == "cursor-100", "the cursor waits for its lines"
        assert [p.kind for p in problems if p] == ["full"] and problems[-1] is not None

        filler.unlink()
        _wait(lambda: problems[-1] is None, "the store to find room again")
        store.flush()
        stored = store.get_logs("t1", limit=None)
        assert [e.text for e in stored] == [f"{seq} {PAD}" for seq in range(1, 3101)]
        assert store.get_cursor("t1") == "cursor-3100"
        store.write_sync(wr.set_setting("later", 1))
        assert store.get_setting("later") == 1
    finally:
        store.close()
