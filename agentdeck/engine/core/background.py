"""The engine's background tasks: each kept (a strong reference) until it ends, and the
driving ones stopped together when the lease is lost."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable

from agentdeck.engine.errors import LeaseLost

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10.0


class Background:
    """The tasks one engine started; ``driving`` ones stop when the lease is lost."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._driving: set[asyncio.Task] = set()

    def spawn(self, coro: Awaitable[Any], *, driving: bool = False) -> asyncio.Task:
        """Start a background task and keep a strong reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if driving:
            self._driving.add(task)
        task.add_done_callback(self._done)
        return task

    async def stop_driving(self) -> None:
        """Cancel the work that runs only while the lease is held."""
        await _cancel(self._driving)

    async def stop_all(self) -> None:
        await _cancel(self._tasks)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._driving.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if isinstance(task.exception(), LeaseLost):
            log.info("stopped: %s", task.exception())
        else:
            log.error("engine task failed", exc_info=task.exception())


async def _cancel(tasks: set[asyncio.Task]) -> None:
    for task in list(tasks):
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(set(tasks), timeout=CLOSE_TIMEOUT)
        for task in stuck:
            log.error("engine task did not stop: %r", task)
