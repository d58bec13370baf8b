"""SIGTERM is a clean shutdown of the `agentdeck` command line: the engine closes, the
queue lease is released, running agents keep running for the next engine."""
from __future__ import annotations

import asyncio
import signal

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import (
    make_repo, open_engine, stdout_lines, wait_done, wait_until,
)
from tests.engine.processkit import (
    finish, lease_held, poll, reap, start_cli, stored_lines, task_state,
)
from tests.engine.test_lease import GATED, _release, _submit


async def test_sigterm_stops_agentdeck_run_cleanly(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    [task_id] = await _submit(home, repo, GATED)
    proc = start_cli(home, "run")
    try:
        poll(lambda: task_state(home, task_id) == "running" and stored_lines(home, task_id) > 1,
             30, "the task to run", proc)
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc)
        assert code == 0, err
        assert "stopping (running agents keep running)" in out
        assert "Traceback" not in err
        assert not lease_held(home), "the lease is released"
    finally:
        reap(proc)
    assert task_state(home, task_id) == "running"
    engine = await open_engine(home)  # re-attaches to the agent that kept running
    try:
        _release(home, task_id)
        assert (await wait_done(engine, task_id)).state == TaskState.SUCCEEDED
    finally:
        await engine.close()


async def test_sigterm_interrupts_another_command_without_a_traceback(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, GATED)
        await wait_until(lambda: stdout_lines(engine, task.id) == ["waiting"], what="start")
        proc = start_cli(home, "logs", "--follow", task.id)
        try:
            first = await asyncio.to_thread(proc.stdout.readline)
            assert "waiting" in first  # the command runs: its SIGTERM handler is in place
            proc.send_signal(signal.SIGTERM)
            code, _, err = await asyncio.to_thread(finish, proc)
            assert code == 143 and err.strip() == "agentdeck: terminated", err
        finally:
            reap(proc)
        _release(home, task.id)
        await wait_done(engine, task.id)
    finally:
        await engine.close()
