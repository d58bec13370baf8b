"""Helpers for the desktop app tests: a qasync loop inside pytest-qt, task snapshots.

The loop fixture follows STYLE.md: ``QEventLoop(qapp, already_running=True)`` so that
``qtbot.waitUntil`` drives both Qt and asyncio; teardown cancels what is left, closes
the loop and clears the running loop so nothing leaks into the next test.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import pytest
import qasync

from engine.models import Task, TaskState


@pytest.fixture
def qloop(qapp, qtbot):
    """A qasync loop marked as running inside the test's Qt event processing."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=10_000)
    qapp.aboutToQuit.disconnect(loop._after_run_forever)
    # Not loop.stop(): it calls QApplication.exit(), which leaves Qt's "quit now" flag set
    # in this process, and the next test's executor threads then never deliver results.
    loop._QEventLoop__is_running = False
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


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


@pytest.fixture
def open_session(qloop, qtbot):
    """Opens `desktop.app.Session`s on real engines; closes them (and their tasks) after."""
    from desktop.app import Session

    sessions: list[Session] = []

    def opener(home, **options):
        options.setdefault("default_runtime", "local")
        session = run(qtbot, Session.open(home, **options))
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        if not session.closed:
            run(qtbot, stop_work(session.ctx.engine))
            run(qtbot, session.close())


async def stop_work(engine) -> None:
    """Cancel whatever still runs, so no agent process outlives the test."""
    for task in await engine.list_tasks(state=["queued", "preparing", "running", "needs_input"]):
        try:
            await engine.cancel(task.id)
        except Exception:  # it finished meanwhile
            pass
    for task_id in list(engine._runners):
        await engine.wait_idle(task_id, timeout=15)
