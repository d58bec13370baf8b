"""The queue lease between real processes: one waits and takes over when the holder stops;
a holder that stalled past its lease and resumed stops driving and writes nothing."""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.errors import LeaseLost
from agentdeck.engine.models import EntryKind, LogEntry, Stream, Task, TaskState
from agentdeck.engine.core.lease import LEASE_TTL
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done
from tests.engine.processkit import (
    finish, lease_held, lease_pid, poll, query, reap, start_cli, stored_lines, task_state,
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


async def test_a_second_agentdeck_run_waits_and_takes_over(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    gated, later = await _submit(home, repo, GATED, "echo later")
    first = start_cli(home, "run", "--max-parallel", "1", "--until", "+6s")
    second = None
    try:
        poll(lambda: _running(home, gated), 30, "the first task to run", first)
        second = start_cli(home, "run", "--max-parallel", "1")
        code, out, _ = finish(first)
        assert code == 0 and "reached --until" in out
        assert task_state(home, later) == "queued"
        poll(lambda: lease_pid(home) == second.pid, LEASE_TTL * 2,
             "the second `agentdeck run` to take the lease", second)
        _release(home, gated)
        code, out, err = finish(second)
        assert code == 0 and "queue empty: done" in out, err
        assert task_state(home, gated) == task_state(home, later) == "succeeded"
    finally:
        reap(first)
        if second is not None:
            reap(second)


@pytest.mark.slow
async def test_a_holder_that_stalls_past_its_lease_stops_driving_when_it_resumes(tmp_path):
    """SIGSTOP the driving `agentdeck run` until its lease expires, let a new engine take
    over, SIGCONT the old one: the task's log has every line once, and one end."""
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    lines = 3000
    script = (f"i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo \"line $i\"; "
              f"[ $((i % 15)) -eq 0 ] && sleep 0.2; done")
    [task_id] = await _submit(home, repo, script)
    stalled = start_cli(home, "run")
    try:
        poll(lambda: task_state(home, task_id) == "running"
             and stored_lines(home, task_id) > 50, 30, "the task to run", stalled)
        os.kill(stalled.pid, signal.SIGSTOP)
        await asyncio.to_thread(poll, lambda: not lease_held(home), LEASE_TTL * 2,
                                "the stalled holder's lease to expire")
        engine = await open_engine(home)
        try:
            assert engine.drives
            await asyncio.to_thread(poll, lambda: engine.active_count() == 1, 30,
                                    "the new holder to re-attach")
            os.kill(stalled.pid, signal.SIGCONT)
            done = await wait_done(engine, task_id, timeout=120)
            assert done.state == TaskState.SUCCEEDED, done.error
            assert stdout_lines(engine, task_id) == [f"line {i}" for i in range(1, lines + 1)]
            texts = [e.text for e in await engine.get_logs(task_id, limit=None)]
            assert sum(t.startswith("attempt 1 ended") for t in texts) == 1, texts[-5:]
            assert len(await engine.attempts(task_id)) == 1
        finally:
            await engine.close()
        code, out, err = finish(stalled)
        assert "lost the queue" in err
        assert code == 0 and "queue empty: done" in out
    finally:
        if stalled.poll() is None:
            os.kill(stalled.pid, signal.SIGCONT)
        reap(stalled)
