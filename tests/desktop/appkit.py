"""Helpers for the desktop app tests: run a coroutine on the test's qasync loop (the
``qloop`` fixture of conftest.py), task snapshots, stopping an engine's work."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

from agentdeck.engine.models import Task, TaskState


def run(qtbot, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run ``coro`` on the qasync loop while Qt processes events; return its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


def snapshot(task_id: str, **fields: Any) -> Task:
    """A task snapshot as the engine would send it (fields default to a queued task)."""
    base = {"prompt": f"do {task_id}", "repo": "/repos/demo", "created_at": time.time()}
    base.update(fields)
    return Task(id=task_id, **base)


def running(task_id: str, started: float | None = None, **fields: Any) -> Task:
    """A running task snapshot."""
    return snapshot(task_id, state=TaskState.RUNNING,
                    started_at=started if started is not None else time.time() - 5, **fields)


async def stop_work(engine) -> None:
    """Cancel whatever still runs, so no agent process outlives the test."""
    for task in await engine.list_tasks(state=["queued", "preparing", "running", "needs_input"]):
        try:
            await engine.cancel(task.id)
        except Exception:  # it finished meanwhile
            pass
    for task_id in list(engine.runners):
        await engine.wait_idle(task_id, timeout=15)
