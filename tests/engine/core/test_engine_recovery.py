"""kill -9 of the engine: a new engine re-attaches and no log line is lost or doubled."""
from __future__ import annotations

import os
import signal

import psutil

from agentdeck.engine.runtimes.local.launch import RunDir
from agentdeck.engine.models import TaskState
from tests.engine.enginekit import (
    kill_engine_mid_run, make_repo, open_engine, stdout_lines, wait_done, wait_until,
)

LINES = 400


def _script(n: int) -> str:
    return (f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"task {n} line $i\"; "
            f"[ $((i % 40)) -eq 0 ] && sleep 0.1; done; echo {n} > result.txt")


async def test_kill_9_engine_mid_run_then_resume(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    submitter = await open_engine(home, drive_queue=False)
    ids = [(await submitter.submit(repo, _script(n), runtime="local")).id for n in range(4)]
    await submitter.close()

    kill_engine_mid_run(home, running=4, min_lines=20)

    engine = await open_engine(home)
    try:
        for n, task_id in enumerate(ids):
            task = await wait_done(engine, task_id, timeout=60)
            assert task.state == TaskState.SUCCEEDED, task.error
            assert stdout_lines(engine, task_id) == [f"task {n} line {i}" for i in range(1, LINES + 1)]
            assert "+{}".format(n) in await engine.get_patch(task_id)
    finally:
        await engine.close()


async def test_an_agent_that_died_while_the_engine_was_down_is_marked_failed(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    engine = await open_engine(home)
    task = await engine.submit(repo, "echo up; sleep 30")
    await wait_until(lambda: stdout_lines(engine, task.id) == ["up"], what="agent start")
    await engine.close()
    # A reboot kills the supervisor and the agent together, leaving no exit record.
    pids = RunDir(home / "runs" / task.id / "1").pids()
    os.killpg(pids["agent"]["pid"], signal.SIGKILL)
    os.kill(pids["supervisor"]["pid"], signal.SIGKILL)
    psutil.wait_procs([psutil.Process(pids["supervisor"]["pid"])], timeout=5)

    engine = await open_engine(home)
    try:
        done = await wait_done(engine, task.id)
        assert done.state == TaskState.FAILED
        assert "died while agentdeck was not running" in done.error
    finally:
        await engine.close()
