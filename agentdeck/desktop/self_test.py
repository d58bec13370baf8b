"""``agentdeck-gui --self-test``: the installed program proves it works, end to end.

With the main window open, it queues one demo task on the local runtime (a fresh copy of
the sample repo, without the demo's pauses), waits for it, accepts its diff the way a user
does (the task selected, then Accept) and checks that the commit reached the repo.
Everything it needs ships with agentdeck, so it runs alike from a checkout, a wheel or the
frozen bundle.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from agentdeck.desktop.window.main_window import MainWindow
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.models import ReviewState, Task, TaskState

T = TypeVar("T")
#: How long the demo task may take (it runs in seconds), and then its accept.
TASK_TIMEOUT = 120.0
ACCEPT_TIMEOUT = 30.0
_POLL = 0.1
#: The file the self-test's demo task adds to the sample repo.
ADDED_FILE = "CHANGELOG.md"


class SelfTestFailed(AgentdeckError):
    """A step of the self-test did not happen; the message says which."""


async def exercise(window: MainWindow, repo_dir: Path) -> str:
    """Run the self-test in the shown ``window``; the sample repo goes to ``repo_dir``.

    Returns:
        One line saying what was done.

    Raises:
        SelfTestFailed: a step failed (or any other `AgentdeckError` the engine raised).
    """
    if not window.isVisible():
        raise SelfTestFailed("the main window did not open")
    engine = window.ctx.engine
    task = await engine.seed_self_test(repo_dir)
    task = await _until(lambda: engine.get_task(task.id), lambda t: t.state.is_terminal,
                        TASK_TIMEOUT, f"the demo task {task.id} did not finish")
    if task.state is not TaskState.SUCCEEDED:
        raise SelfTestFailed(f"the demo task {task.id} ended {task.state.value}: "
                             f"{task.error or 'see agentdeck logs ' + task.id}")
    # Accept is enabled once the window holds the snapshot that says the change waits.
    await _until(_now(lambda: window.model.task(task.id)),
                 lambda shown: shown is not None and shown.reviewable,
                 ACCEPT_TIMEOUT, f"the task list never showed task {task.id} ready to review")
    window.open_task(task.id)
    window.actions_["accept"].trigger()
    task = await _until(lambda: engine.get_task(task.id), lambda t: t.review is not ReviewState.PENDING,
                        ACCEPT_TIMEOUT, f"accepting task {task.id} did not finish")
    if task.review is not ReviewState.ACCEPTED or not await _committed(task):
        said = window.statusBar().currentMessage() or f"review is {task.review.value}"
        raise SelfTestFailed(f"accepting task {task.id} failed: {said}")
    return f"task {task.id} ran on the local runtime and its diff was accepted"


async def _committed(task: Task) -> bool:
    return await asyncio.to_thread((Path(task.repo) / ADDED_FILE).is_file)


def _now(read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def value() -> T:
        return read()
    return value


async def _until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool],
                 timeout: float, what: str) -> T:
    """Poll ``read`` until ``done`` holds for its value (the loop keeps running meanwhile)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not done(value := await read()):
        if loop.time() > end:
            raise SelfTestFailed(f"{what} within {timeout:.0f} s")
        await asyncio.sleep(_POLL)
    return value
