"""Batch reports: each task's state, diff size, duration and cost, and why the failed
ones failed; for a batch and for last night. Real shell agents, real git, real SQLite."""
from __future__ import annotations

import pytest

from agentdeck.engine.api import LAST_NIGHT, BatchSpec, TaskSpec
from agentdeck.engine.errors import NotFound
from agentdeck.engine.models import TaskState
from tests.engine.enginekit import make_repo, wait_done


async def _run_batch(engine, repo):
    spec = BatchSpec("nightly", (
        TaskSpec('printf "1\\n2\\n3\\n" > three.txt', str(repo), "three lines"),
        TaskSpec('echo "cannot reach the mirror" >&2; echo "giving up" >&2; exit 7',
                 str(repo), "doomed"),
    ))
    tasks = await engine.submit_batch(spec)
    for task in tasks:
        await wait_done(engine, task.id)
    return tasks


async def test_a_batch_report_shows_each_task_and_why_the_failed_one_failed(engine, tmp_path):
    tasks = await _run_batch(engine, make_repo(tmp_path / "repo"))
    report = await engine.report("nightly")

    assert report.title == f"batch nightly ({tasks[0].batch_id})"
    assert [t.id for t in report.tasks] == [t.id for t in tasks]
    ok, failed = report.tasks
    assert (ok.state, ok.files, ok.added, ok.failure) == (TaskState.SUCCEEDED, 1, 3, None)
    assert failed.state == TaskState.FAILED
    assert failed.failure.splitlines() == [
        "the agent exited with code 7", "cannot reach the mirror", "giving up"]
    assert report.count(TaskState.FAILED) == 1
    assert await engine.report(tasks[0].batch_id[:4]) == report
    assert report.to_dict()["tasks"][1]["state"] == "failed"


async def test_last_night_holds_the_tasks_submitted_since_yesterday_evening(engine, tmp_path):
    tasks = await _run_batch(engine, make_repo(tmp_path / "repo"))
    report = await engine.report(LAST_NIGHT)
    assert report.title.startswith("last night (since ")
    assert [t.id for t in report.tasks] == [t.id for t in tasks]
    assert report.since < tasks[0].created_at


async def test_an_unknown_batch_names_the_recent_ones(engine, tmp_path):
    await _run_batch(engine, make_repo(tmp_path / "repo"))
    with pytest.raises(NotFound, match=r"no batch with id or name 'daily' \(recent: "
                                       r"nightly \(b[0-9a-f]+\); or 'last-night'\)"):
        await engine.report("daily")
