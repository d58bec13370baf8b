"""The durable queue through the real engine: parallelism cap, priority, not_before."""
from __future__ import annotations

import asyncio
import time

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.events import TaskUpdated
from agentdeck.engine.models import ReviewState, TaskState
from agentdeck.engine.runtimes.docker.endpoints import Endpoint
from agentdeck.engine.runtimes.docker.pool import EndpointPool
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done, wait_until


async def test_twenty_tasks_never_more_than_four_at_once_in_priority_order(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    # Submit everything first through a process that does not drive the queue, so the
    # start order is decided by priority alone.
    submitter = await open_engine(home, drive_queue=False)
    ids = []
    for i in range(20):
        script = f"sleep 0.2; echo task {i} > out_{i}.txt; echo done {i}"
        task = await submitter.submit(repo, script, priority=i % 5, title=f"t{i}")
        ids.append(task.id)
    await submitter.close()

    engine = await open_engine(home, max_parallel=4)
    active: set[str] = set()
    peak = 0
    started: list[str] = []

    def on_event(event):
        nonlocal peak
        if not isinstance(event, TaskUpdated):
            return
        task = event.task
        if task.state == TaskState.PREPARING and task.id not in active:
            started.append(task.id)
        if task.state.is_active:
            active.add(task.id)
        else:
            active.discard(task.id)
        peak = max(peak, len(active))

    engine.bus.subscribe(on_event)
    try:
        for task_id in ids:
            task = await wait_done(engine, task_id, timeout=60)
            assert task.state == TaskState.SUCCEEDED, task.error
            assert task.review == ReviewState.PENDING and task.files_changed == 1
        assert 2 <= peak <= 4
        priority = {task_id: i % 5 for i, task_id in enumerate(ids)}
        order = [priority[t] for t in started]
        assert order == sorted(order, reverse=True), order
        assert stdout_lines(engine, ids[7]) == ["done 7"]
    finally:
        await engine.close()


async def test_not_before_holds_a_task_until_its_time(engine, repo):
    later = await engine.submit(repo, "echo later", not_before=time.time() + 1.5)
    now = await engine.submit(repo, "echo now")
    await wait_done(engine, now.id)
    assert (await engine.get_task(later.id)).state == TaskState.QUEUED
    done = await wait_done(engine, later.id)
    assert done.state == TaskState.SUCCEEDED
    assert done.started_at >= later.not_before


async def test_a_task_inserted_by_another_process_is_picked_up(engine, idle_engine, repo):
    assert engine.drives and not idle_engine.drives
    task = await idle_engine.submit(repo, "echo from the cli")
    done = await wait_done(engine, task.id, timeout=10)
    assert done.state == TaskState.SUCCEEDED


async def test_cancel_stops_the_whole_process_group(engine, repo):
    script = "sh -c 'trap \"\" TERM; sleep 60' & echo started; wait"
    task = await engine.submit(repo, script)
    await wait_until(lambda: "started" in stdout_lines(engine, task.id), what="start")
    t0 = time.monotonic()
    await engine.cancel(task.id)
    done = await wait_done(engine, task.id, timeout=30)
    assert done.state == TaskState.CANCELLED
    assert done.error == "cancelled by the user"
    assert time.monotonic() - t0 < 25


async def test_retry_keeps_the_old_log_and_counts_attempts(engine, repo):
    task = await engine.submit(repo, 'test -f flag && echo second || { touch flag; echo first; exit 3; }')
    failed = await wait_done(engine, task.id)
    assert failed.state == TaskState.FAILED and failed.exit_code == 3
    assert "exited with code 3" in failed.error
    await engine.retry(task.id)
    again = await wait_done(engine, task.id)
    # A retry starts from the snapshot again: the flag of attempt 1 is gone.
    assert again.attempt == 2 and again.state == TaskState.FAILED
    assert stdout_lines(engine, task.id) == ["first", "first"]
    attempts = await engine.attempts(task.id)
    assert [a["state"] for a in attempts] == ["failed", "failed"]


async def _followed_up(engine, repo, script: str, follow_up: str):
    """Run ``script``, then ``follow_up`` as attempt 2; the task after that."""
    task = await engine.submit(repo, script)
    await wait_done(engine, task.id)
    await engine.follow_up(task.id, follow_up)
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED and done.attempt == 2
    return done


async def test_follow_up_runs_in_the_same_working_copy(engine, repo):
    task = await _followed_up(engine, repo, "echo one > notes.txt",
                              "echo two >> notes.txt; cat notes.txt")
    assert stdout_lines(engine, task.id)[-2:] == ["one", "two"]
    assert "+one\n+two" in await engine.get_patch(task.id)


async def test_a_follow_up_started_while_the_last_sandbox_is_removed_loses_no_line(
        engine, repo, monkeypatch):
    """A task is reported ended before its sandbox is removed (slow on a loaded Docker
    daemon); a follow-up starting meanwhile must not reuse the log's sequence numbers."""
    from agentdeck.engine.runtimes.local.runtime import LocalSandbox
    removed = LocalSandbox.cleanup

    async def slow_cleanup(self, keep=False):  # the timing of a slow removal, for sure
        await asyncio.sleep(0.5)
        await removed(self, keep)

    monkeypatch.setattr(LocalSandbox, "cleanup", slow_cleanup)
    task = await _followed_up(engine, repo, "echo one", "echo two")
    await engine.wait_idle(task.id)
    assert stdout_lines(engine, task.id) == ["one", "two"]
    seqs = [e.seq for e in engine.store.get_logs(task.id, limit=None)]
    assert seqs == sorted(set(seqs)) and len(seqs) == 8  # starting, sandbox, line, ended x2


async def test_timeout_ends_the_task_as_timed_out(engine, repo):
    task = await engine.submit(repo, "echo working; sleep 30", timeout=1)
    done = await wait_done(engine, task.id, timeout=30)
    assert done.state == TaskState.TIMED_OUT
    assert "timed out after 1 s" in done.error


async def test_runtime_settings_apply_to_tasks_submitted_from_then_on(tmp_path):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home", default_runtime="local", drive_queue=False)
    try:
        before = await engine.submit(repo, "true")
        docker = engine.runtime("docker")  # made before the change: reconfigured in place
        await engine.update_settings(default_runtime="docker",
                                     docker_endpoints=["box tcp://127.0.0.1:1 3"])
        after = await engine.submit(repo, "true")
        assert (before.runtime, after.runtime) == ("local", "docker")
        assert engine.runtime("docker") is docker and docker.free_slots() == 3  # box only
        with pytest.raises(InvalidInput, match="unknown default runtime 'kubernetes'"):
            await engine.update_settings(default_runtime="kubernetes", max_parallel=9)
        with pytest.raises(InvalidInput, match="cannot read the Docker endpoint"):
            await engine.update_settings(docker_endpoints=["box notaurl"], max_parallel=9)
        settings = await engine.get_settings()
        assert settings["max_parallel"] != 9 and settings["default_runtime"] == "docker"
    finally:
        await engine.close()


def test_endpoints_change_only_where_no_task_runs() -> None:
    pool = EndpointPool([Endpoint("local", None, 2), Endpoint("box", "tcp://10.0.0.5:2376", 4)])
    pool.take("box", "task-1")
    pool.reconfigure([Endpoint("local", None, 5), Endpoint("box", "tcp://10.0.0.5:2376", 4),
                      Endpoint("new", "ssh://me@new", 1)])
    assert pool.free_slots() == 5 + 3 + 1
    with pytest.raises(InvalidInput, match="box still runs 1 task"):
        pool.reconfigure([Endpoint("local", None, 5)])
    with pytest.raises(InvalidInput, match="box still runs 1 task"):
        pool.reconfigure([Endpoint("box", "tcp://10.0.0.6:2376", 4)])
    pool.release("box", "task-1")
    pool.reconfigure([Endpoint("box", "tcp://10.0.0.6:2376", 4)])
    assert list(pool.endpoints) == ["box"] and pool.free_slots() == 4
