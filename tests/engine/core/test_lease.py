"""The queue lease: a new owner's epoch fences the old owner's writes, and an engine opened
while `agentdeck run` drives (the desktop app) takes over when it exits. The faults between
command lines (a second `agentdeck run`, a holder stalled past its lease) are in
tests/faults."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.errors import LeaseLost
from agentdeck.engine.models import EntryKind, LogEntry, Stream, Task, TaskState
from agentdeck.engine.core.lease import LEASE_TTL
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.engine.processkit import (
    finish, poll, query, reap, start_cli, stored_lines, task_state,
)

#: A task that runs until a file named ``go`` appears in its working copy.
GATED = "echo waiting; while [ ! -f go ]; do sleep 0.05; done; echo released"


async def _submit(home: Path, repo: Path, *prompts: str) -> list[str]:
    cli = await open_engine(home, drive_queue=False)
    try:
        return [(await cli.submit(repo, prompt)).id for prompt in prompts]
    finally:
        await cli.close()


def _release(home: Path, task_id: str) -> None:
    workdir = query(home, "SELECT workdir FROM tasks WHERE id=?", task_id)[0][0]
    (Path(workdir) / "go").touch()


def _running(home: Path, task_id: str) -> bool:
    return task_state(home, task_id) == "running" and stored_lines(home, task_id) > 1


def test_a_new_owner_raises_the_epoch_and_the_old_owners_writes_are_refused(tmp_path):
    old, new = st.Store(tmp_path / "db.sqlite3"), st.Store(tmp_path / "db.sqlite3")
    try:
        old.write_sync(wr.insert_tasks([Task(id="t", prompt="p", repo="/r")]))
        assert old.write_sync(wr.take_lease("old", -1)) == 1  # taken, and expired at once
        assert old.write_sync(wr.take_lease("old", -1)) == 1, "a renewal keeps the epoch"
        assert new.write_sync(wr.take_lease("new", 60)) == 2
        with pytest.raises(LeaseLost):
            old.write_sync(wr.fenced(wr.update_task("t", error="stale"), 1))
        new.write_sync(wr.fenced(wr.update_task("t", error="fresh"), 2))
        for store, seq, text in ((old, 1, "stale"), (new, 2, "fresh")):  # line and cursor
            entry = LogEntry("t", seq, 0.0, 1, Stream.STDOUT, EntryKind.RAW, text, None)
            store.append_logs([entry], ("t", text))
            store.flush()
        assert [e.text for e in new.get_logs("t")] == ["fresh"]
        assert new.get_cursor("t") == "fresh" and new.get_task("t").error == "fresh"
        new.write_sync(wr.release_lease("new"))
        assert old.write_sync(wr.take_lease("old", 60)) == 3, "the epoch survives a release"
    finally:
        old.close()
        new.close()


def test_a_stale_owner_packs_no_log_chunk(tmp_path):
    """A stale holder whose tail reaches a chunk's size (sealing moves rows into a chunk)
    writes nothing: neither the chunk nor the deletion of the tail."""
    old, new = st.Store(tmp_path / "db.sqlite3"), st.Store(tmp_path / "db.sqlite3")
    try:
        old.write_sync(wr.insert_tasks([Task(id="t", prompt="p", repo="/r")]))
        old.write_sync(wr.take_lease("old", -1))
        new.write_sync(wr.take_lease("new", 60))
        first = [LogEntry("t", seq, 0.0, 1, Stream.STDOUT, EntryKind.RAW, f"new {seq}", None)
                 for seq in range(1, 4)]
        new.append_logs(first)
        new.flush()
        stale = [LogEntry("t", seq, 0.0, 1, Stream.STDOUT, EntryKind.RAW, f"old {seq}", None)
                 for seq in range(1, 2000)]
        old.append_logs(stale)
        old.flush()
        assert [e.text for e in new.get_logs("t")] == ["new 1", "new 2", "new 3"]
    finally:
        old.close()
        new.close()


async def test_an_engine_opened_while_agentdeck_run_drives_takes_over_when_it_exits(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    [gated] = await _submit(home, repo, GATED)
    holder = start_cli(home, "run")
    try:
        poll(lambda: _running(home, gated), 30, "the first task to run", holder)
        gui = await open_engine(home)  # what the desktop app does
        try:
            assert not gui.drives
            _release(home, gated)
            code, out, _ = finish(holder)
            assert code == 0 and "queue empty: done" in out
            later = await gui.submit(repo, "echo later")
            # Within one lease period (plus the test's slack): the opened engine drives.
            done = await wait_done(gui, later.id, timeout=LEASE_TTL * 2)
            assert done.state == TaskState.SUCCEEDED and gui.drives
        finally:
            await gui.close()
    finally:
        reap(holder)
