"""Undoing a rejection, the review inbox and why a failed task failed, on a real engine."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from agentdeck.engine.core.storage import DEFAULT_RETENTION_DAYS
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import ReviewState, TaskState
from agentdeck.engine.store import db as st
from tests.engine.enginekit import git, make_repo, open_engine, wait_done, wait_until


async def _waiting(engine, repo, script, **kw):
    task = await engine.submit(repo, script, **kw)
    done = await wait_done(engine, task.id)
    assert done.review == ReviewState.PENDING, done.error
    return done


async def test_a_rejected_change_is_reopened_and_can_then_be_accepted(engine, repo) -> None:
    task = await _waiting(engine, repo, "echo keep > kept.txt")
    head = git(repo, "rev-parse", "HEAD")
    await engine.reject(task.id)
    assert Path(task.workdir, "kept.txt").exists(), "reject removed the copy: no undo"
    assert git(repo, "rev-parse", "HEAD") == head
    reopened = await engine.reopen(task.id)
    assert reopened.review == ReviewState.PENDING
    assert "kept.txt" in await engine.get_patch(task.id)
    await engine.accept(task.id)
    assert (repo / "kept.txt").read_text() == "keep\n"


async def test_reopen_refuses_what_it_cannot_undo(engine, repo) -> None:
    task = await _waiting(engine, repo, "echo x > x.txt")
    with pytest.raises(InvalidInput, match="is not rejected .*pending.*nothing to reopen"):
        await engine.reopen(task.id)
    nothing = await wait_done(engine, (await engine.submit(repo, "true")).id)
    await engine.reject(nothing.id)
    with pytest.raises(InvalidInput, match="changed no file"):
        await engine.reopen(nothing.id)
    assert (await engine.get_task(task.id)).review == ReviewState.PENDING


async def test_an_old_rejection_loses_its_copy_and_says_so(tmp_path: Path) -> None:
    """The driving engine removes copies rejected longer ago than the storage retention
    (when it starts, then hourly), dated by the rejection, not by the task's end; reopen
    then says why it cannot."""
    repo, home = make_repo(tmp_path / "repo"), tmp_path / "home"
    engine = await open_engine(home)
    try:
        task = await _waiting(engine, repo, "echo x > x.txt")
        fresh = await _waiting(engine, repo, "echo y > y.txt")
        await engine.reject(task.id)
        await engine.reject(fresh.id)
    finally:
        await engine.close()
    with sqlite3.connect(st.db_path(home)) as conn:
        long_ago = time.time() - DEFAULT_RETENTION_DAYS * 86400 - 60
        conn.execute("UPDATE tasks SET updated_at=? WHERE id=?", (long_ago, task.id))
        # finished long ago but rejected just now: still undoable
        conn.execute("UPDATE tasks SET finished_at=?, created_at=? WHERE id=?",
                     (long_ago, long_ago, fresh.id))
    engine = await open_engine(home)
    try:
        await wait_until(lambda: not Path(task.workdir).exists(), what="the old copy removed")
        with pytest.raises(InvalidInput, match="its working copy was removed .*agentdeck retry"):
            await engine.reopen(task.id)
        assert Path(fresh.workdir).exists()
        assert (await engine.reopen(fresh.id)).review == ReviewState.PENDING
    finally:
        await engine.close()


async def test_the_review_queue_holds_every_waiting_task_in_inbox_order(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home", max_parallel=1)
    try:
        first = await _waiting(engine, repo, "echo 1 > one.txt")
        second = await _waiting(engine, repo, "echo 2 > two.txt")
        third = await _waiting(engine, repo, "echo 3 > three.txt")
        accepted = await _waiting(engine, repo, "echo 4 > four.txt")
        await engine.accept(accepted.id)
        await wait_done(engine, (await engine.submit(repo, "true")).id)  # no change
        queue = await engine.review_queue()
        assert [t.id for t in queue] == [first.id, second.id, third.id]
        assert (await engine.counts())["review_pending"] == 3
        await engine.reject(second.id)
        assert [t.id for t in await engine.review_queue()] == [first.id, third.id]
        with pytest.raises(InvalidInput, match="unknown review order 'newest'"):
            await engine.review_queue("newest")
    finally:
        await engine.close()


async def test_a_failed_task_says_what_the_agent_printed_last(engine, repo) -> None:
    script = ("echo progress; for i in 1 2 3 4 5 6 7; do echo \"line $i\" >&2; done; "
              "echo 'fatal: no such module' >&2; exit 3")
    task = await wait_done(engine, (await engine.submit(repo, script)).id)
    assert task.state == TaskState.FAILED
    assert task.error.split("\n") == ["the agent exited with code 3", "line 4", "line 5",
                                      "line 6", "line 7", "fatal: no such module"]
    summary = next(t for t in (await engine.report("last-night")).tasks if t.id == task.id)
    assert summary.failure == task.error  # the quoted lines are not repeated
    quiet = await wait_done(engine, (await engine.submit(repo, "echo only-out; exit 2")).id)
    assert quiet.error == "the agent exited with code 2"
