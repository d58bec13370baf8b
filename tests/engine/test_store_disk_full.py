"""A really full disk under the database (a 2 MiB tmpfs, filled up): the store says "disk
full at <path>", keeps every log line it took, and saves them once there is room; the
engine keeps running and finishes the task.

Mounting needs root; elsewhere these tests are skipped. ``HANG`` only bounds waits that,
before the fix, never ended (the writer thread had died on SQLITE_FULL).
"""
from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.errors import StoreError
from agentdeck.engine.events import Notice
from agentdeck.engine.models import EntryKind, LogEntry, Stream, Task, TaskState
from tests.engine.enginekit import (
    make_repo, open_engine, stdout_lines, wait_done, wait_state, wait_until,
)

HANG = 30.0
PAD = "x" * 200  # lines big enough that a batch of them needs new room in the WAL


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs of its own, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(disk)],
                   check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file; remove it to free the disk."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


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


async def test_an_engine_on_a_full_disk_says_so_and_ends_the_task_once_there_is_room(
        tmp_path, small_disk):
    """The database (linked from the data dir) is on the small disk; the agent prints
    before and while the disk is full. Before, the engine hung and the task never ended."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (small_disk / "agentdeck.sqlite3").touch(mode=0o600)
    st.db_path(home).symlink_to(small_disk / "agentdeck.sqlite3")
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home)
    notices: list[Notice] = []
    engine.bus.subscribe(lambda e: notices.append(e) if isinstance(e, Notice) else None)
    script = (f"for i in $(seq 1 300); do echo before $i {PAD}; done; "
              "while [ ! -e go ]; do sleep 0.05; done; "
              f"for i in $(seq 1 3000); do echo after $i {PAD}; done")
    try:
        task = await engine.submit(repo, script)
        task = await wait_state(engine, task.id, {TaskState.RUNNING})
        await wait_until(lambda: engine.store.log_count(task.id) >= 300, HANG, "the first lines")
        filler = fill(small_disk)
        (Path(task.workdir) / "go").touch()
        full = f"disk full at {st.db_path(home)}"
        await wait_until(lambda: any(n.level == "error" and n.message.startswith(full)
                                     for n in notices), HANG, "the disk-full notice")
        assert (await engine.get_task(task.id)).state == TaskState.RUNNING

        filler.unlink()
        done = await wait_done(engine, task.id, timeout=HANG)
        assert done.state == TaskState.SUCCEEDED, done.error
        assert stdout_lines(engine, task.id) == (
            [f"before {i} {PAD}" for i in range(1, 301)]
            + [f"after {i} {PAD}" for i in range(1, 3001)])
        assert any(n.level == "info" and "can be written again" in n.message for n in notices)
    finally:
        await engine.close()
