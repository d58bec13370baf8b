"""The driver cannot die: an error of one request or one task is logged, the queue goes on."""
from __future__ import annotations

import asyncio
import logging

from agentdeck.engine.store import writes as wr
from agentdeck.engine.core.attempts import Attempts
from agentdeck.engine.logs.sink import SeqCounter
from agentdeck.engine.models import TaskState
from tests.engine.enginekit import make_repo, open_engine, profiles_home, wait_done


async def test_a_stale_cancel_request_is_dropped_and_the_queue_goes_on(
        engine, idle_engine, repo, caplog):
    """The row a CLI `cancel` leaves when the task ends between the CLI's read (running)
    and the driver's: a request to cancel a task that has already succeeded. The CLI is
    ``idle_engine``."""
    caplog.set_level(logging.INFO)
    first = await engine.submit(repo, "echo one")
    assert (await wait_done(engine, first.id)).state == TaskState.SUCCEEDED
    await idle_engine.store.awrite(wr.update_task(first.id, requested="cancel"))
    later = await idle_engine.submit(repo, "echo two")
    assert (await wait_done(engine, later.id, timeout=20)).state == TaskState.SUCCEEDED
    assert (await engine.get_task(first.id)).state == TaskState.SUCCEEDED
    assert await asyncio.to_thread(engine.store.pending_requests) == []
    assert any(first.id in r.getMessage() and "succeeded" in r.getMessage()
               for r in caplog.records), "the dropped request is logged"


async def test_a_task_whose_profile_is_gone_fails_and_the_queue_goes_on(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = profiles_home(tmp_path / "home",
                         '[profiles.old]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\n')
    cli = await open_engine(home, drive_queue=False)
    doomed = await cli.submit(repo, "echo old", agent="old", priority=1)
    later = await cli.submit(repo, "echo later")
    await cli.close()
    (home / "agents.toml").write_text("")  # the profile is removed before the task starts

    engine = await open_engine(home)
    try:
        failed = await wait_done(engine, doomed.id)
        assert failed.state == TaskState.FAILED
        assert "no agent profile named 'old'" in failed.error
        assert (await wait_done(engine, later.id, timeout=20)).state == TaskState.SUCCEEDED
    finally:
        await engine.close()


async def test_a_bug_in_starting_one_task_is_logged_and_the_queue_goes_on(
        tmp_path, monkeypatch, caplog):
    """A bug cannot be caused for real, so one is planted: `Attempts.seq_counter`
    raises for one task (it runs once that task is claimed)."""
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    cli = await open_engine(home, drive_queue=False)
    buggy = await cli.submit(repo, "echo buggy", priority=1)
    later = await cli.submit(repo, "echo later")
    await cli.close()
    original = Attempts.seq_counter

    async def seq_counter(self: Attempts, task_id: str) -> SeqCounter:
        if task_id == buggy.id:
            raise RuntimeError("planted bug")
        return await original(self, task_id)

    monkeypatch.setattr(Attempts, "seq_counter", seq_counter)
    caplog.set_level(logging.ERROR)
    engine = await open_engine(home)
    try:
        failed = await wait_done(engine, buggy.id)
        assert failed.state == TaskState.FAILED and "planted bug" in failed.error
        assert (await wait_done(engine, later.id, timeout=20)).state == TaskState.SUCCEEDED
        assert any(r.exc_info and "planted bug" in str(r.exc_info[1]) for r in caplog.records)
    finally:
        await engine.close()
