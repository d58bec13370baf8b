"""How much the merge queue adds to the tests it runs: `land` of 10 waiting tasks with a
1 s test command, against the sum of those same test runs.

A real git repo and 10 real tasks (the shell agent on the local runtime), each adding its
own file. `Engine.land` then lands all ten in order, testing each candidate in its own
temporary checkout (in its bubblewrap sandbox). The reference is the same test command
run ten times in a row with plain ``sh -c`` (no checkout, no sandbox), measured in the
same run: what the queue adds, sandboxes included, is the difference. Prints one JSON line; aim: ratio <= 1.2.

Run: .venv/bin/python benchmarks/review_land.py
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

from agentdeck.engine.api import Engine
from agentdeck.engine.models import TaskState

TASKS, GOAL = 10, 1.2


def _repo(root: Path) -> Path:
    git = ["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b"]
    root.mkdir()
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for number in range(200):
        path = root / f"pkg{number % 10}" / f"module_{number}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"VALUE = {number}\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "initial"], check=True)
    return root


async def _waiting_tasks(engine: Engine, repo: Path) -> list[str]:
    ids = [(await engine.submit(repo, f"echo {n} > new_{n}.txt")).id for n in range(TASKS)]
    for task_id in ids:
        while (task := await engine.get_task(task_id)).state not in (
                TaskState.SUCCEEDED, TaskState.FAILED):
            await asyncio.sleep(0.05)
        assert task.state == TaskState.SUCCEEDED, task.error
    return ids


def _plain_runs(command: str, cwd: Path) -> float:
    """The reference: ``command`` run TASKS times with plain ``sh -c``."""
    started = time.monotonic()
    for _ in range(TASKS):
        subprocess.run(["sh", "-c", command], cwd=cwd, check=True)
    return time.monotonic() - started


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = _repo(root / "repo")
        command = "sleep 1"
        engine = await Engine.open(root / "home", default_runtime="local")
        try:
            ids = await _waiting_tasks(engine, repo)
            started = time.monotonic()
            report = await engine.land(ids, test=command)
            land_seconds = time.monotonic() - started
        finally:
            await engine.close()
        assert report.failed is None and len(report.landed) == TASKS, report.reason
        tests_seconds = _plain_runs(command, repo)
    ratio = land_seconds / tests_seconds
    print(json.dumps({
        "benchmark": "review_land", "tasks": TASKS, "land_s": round(land_seconds, 3),
        "sum_of_test_runs_s": round(tests_seconds, 3), "ratio": round(ratio, 3),
        "goal_ratio": GOAL, "goal_met": ratio <= GOAL,
        "overhead_per_task_ms": round((land_seconds - tests_seconds) / TASKS * 1000, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
