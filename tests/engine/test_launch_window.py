"""kill -9 of the engine in the launch window: after the local runtime started the agent,
before RUNNING and the sandbox were stored. The next engine finds the agents, re-attaches:
every task ends with its whole output, in its working copy as the agent left it, and no
process is left behind."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from agentdeck.engine.store import db as st
from agentdeck.engine.models import TERMINAL_STATES, TaskState
from agentdeck.engine.runtimes.local.launch import RunDir, is_alive
from tests.engine.enginekit import make_repo, open_engine, stdout_lines, wait_done, wait_state

TASKS = 8
LINES = 100


def _profiles(signals: Path) -> str:
    # The setup script says it runs and waits for the go of the test: then every task is
    # stored as preparing, and the test takes the database's write lock before any agent
    # can start. Unconfined, so that the scripts can reach the signals dir.
    return f'''
[profiles.gated]
kind = "shell"
command = ["sh", "-c", "{{prompt}}"]
sandbox = "none"
setup = "mktemp -p {signals} setup.XXXXXX >/dev/null; while [ ! -e {signals}/locked ]; do sleep 0.02; done"
'''


def _agent(n: int, signals: Path) -> str:
    """Half its output, a file in its copy and a sign that it runs; the rest once the
    test says go (after the restart)."""
    first = f'i=0; while [ $i -lt {LINES // 2} ]; do i=$((i+1)); echo "task {n} line $i"; done'
    rest = f'while [ $i -lt {LINES} ]; do i=$((i+1)); echo "task {n} line $i"; done'
    return (f"echo run >> {signals}/runs-{n}; echo before-the-kill > started.txt; {first}; "
            f"touch {signals}/agent-{n}; "
            f"while [ ! -e {signals}/go ]; do sleep 0.02; done; {rest}; echo {n} > result.txt")


def _wait_for(signals: Path, pattern: str, count: int, engine: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while len(list(signals.glob(pattern))) < count:
        assert engine.poll() is None, engine.stderr.read().decode()
        assert time.monotonic() < deadline, f"only {sorted(signals.iterdir())} appeared"
        time.sleep(0.02)


def _kill_in_launch_window(home: Path, signals: Path) -> None:
    """Run `agentdeck run`; once all setups wait, hold the write lock so that nothing can
    be stored, let the agents start, and SIGKILL the engine when every one runs."""
    engine = subprocess.Popen([sys.executable, "-m", "agentdeck.cli.main", "run", "--max-parallel",
                               str(TASKS)], env={**os.environ, "AGENTDECK_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = sqlite3.connect(st.db_path(home), timeout=60, isolation_level=None)
    try:
        _wait_for(signals, "setup.*", TASKS, engine)
        db.execute("BEGIN IMMEDIATE")
        (signals / "locked").touch()
        _wait_for(signals, "agent-*", TASKS, engine)
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        states = {state for (state,) in db.execute("SELECT state FROM tasks")}
        assert states == {TaskState.PREPARING.value}, "killed outside the launch window"
        db.execute("ROLLBACK")
    finally:
        db.close()
        if engine.poll() is None:
            engine.kill()
            engine.wait()
        engine.stderr.close()


def _processes(home: Path) -> list[dict]:
    """The supervisors and agents of the attempts' run dirs, once all are recorded there
    (an agent can signal before its supervisor wrote its pid)."""
    deadline = time.monotonic() + 30
    while True:
        found = [p for pids in home.glob("runs/*/1/pids")
                 for p in RunDir(pids.parent).pids().values() if p]
        if len(found) == 2 * TASKS or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


async def test_an_engine_killed_in_the_launch_window_loses_no_task(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home, signals = tmp_path / "home", tmp_path / "signals"
    home.mkdir()
    signals.mkdir()
    (home / "agents.toml").write_text(_profiles(signals))
    submitter = await open_engine(home, drive_queue=False)
    ids = [(await submitter.submit(repo, _agent(n, signals), agent="gated", runtime="local")).id
           for n in range(TASKS)]
    await submitter.close()

    _kill_in_launch_window(home, signals)
    processes = _processes(home)
    assert len(processes) == 2 * TASKS and all(map(is_alive, processes))

    engine = await open_engine(home)
    try:
        # The agents go on only once the new engine has dealt with every task.
        for task_id in ids:
            await wait_state(engine, task_id, {TaskState.RUNNING, *TERMINAL_STATES})
        (signals / "go").touch()
        for n, task_id in enumerate(ids):
            task = await wait_done(engine, task_id, timeout=120)
            assert task.state == TaskState.SUCCEEDED, task.error
            assert stdout_lines(engine, task_id) == [f"task {n} line {i}"
                                                     for i in range(1, LINES + 1)]
            patch = await engine.get_patch(task_id)
            assert "+before-the-kill" in patch, "the working copy was rebuilt under the agent"
            assert f"+{n}" in patch
            assert (signals / f"runs-{n}").read_text() == "run\n", "the agent ran again"
    finally:
        await engine.close()
        (signals / "go").touch()
        for process in processes:
            if is_alive(process):
                os.kill(process["pid"], signal.SIGKILL)
    assert not [p for p in processes if is_alive(p)], "an agent or supervisor was left running"
