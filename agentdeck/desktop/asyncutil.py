"""Running engine coroutines from Qt code without losing them or their errors.

qasync's ``asyncSlot`` keeps no reference to the task it starts, so a task may be
garbage-collected mid-flight; and an exception in it ends up nowhere useful. Every
coroutine the UI starts goes through `TaskRunner.spawn` instead.
"""
from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from agentdeck.engine.errors import AgentdeckError

log = logging.getLogger(__name__)


class TaskRunner(QObject):
    """Starts coroutines, keeps strong references, reports their failures.

    Signals:
        failed(str): the user-facing message of an expected `AgentdeckError`.
    """

    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        on_error: Callable[[AgentdeckError], None] | None = None,
    ) -> asyncio.Task[Any]:
        """Schedule ``coro`` on the running loop.

        Args:
            coro: The coroutine to run.
            on_error: Called with an expected engine error instead of emitting `failed`
                (for dialogs that show the message inline).
        """
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, on_error))
        return task

    def _finished(
        self, task: asyncio.Task[Any], on_error: Callable[[AgentdeckError], None] | None
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if isinstance(exc, AgentdeckError):
            if on_error is not None:
                on_error(exc)
            else:
                self.failed.emit(str(exc))
            return
        # Anything else is a bug: hand it to the excepthook (logged + shown by app.py).
        sys.excepthook(type(exc), exc, exc.__traceback__)

    def cancel_all(self) -> None:
        """Cancel every coroutine still running (on quit)."""
        for task in list(self._tasks):
            task.cancel()

    async def drain(self) -> None:
        """Wait until every spawned coroutine has finished or been cancelled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
