"""The durable queue: decides which queued tasks start, and when.

The queue lives in SQLite, so the scheduler only polls: a task inserted by another process
(a CLI `submit` while the GUI runs) is seen within `POLL_INTERVAL`. A task starts when it is
queued, its `not_before` has passed, a global slot is free (`max_parallel`), its runtime
has room (Docker endpoints have their own limits) and its provider is under its cap and not
paused by a rate limit. Order: priority (high first), then age (FIFO).

It runs only while its engine holds the queue lease (`agentdeck.engine.core.lease`), and it cannot die:
an error of one request or one task is logged and the loop goes on with the rest.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Callable

from agentdeck.engine.errors import AgentdeckError, IllegalTransition, LeaseLost
from agentdeck.engine.models import Task
from agentdeck.engine.store import writes as wr
if TYPE_CHECKING:
    from agentdeck.engine.api import Engine

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
LOOKAHEAD = 500


class Scheduler:
    def __init__(self, engine: "Engine", max_parallel: int) -> None:
        self.engine = engine
        self.max_parallel = max_parallel
        self._wake = asyncio.Event()
        self._paused_until: dict[str, float] = {}  # provider -> epoch seconds

    def wake(self) -> None:
        """Look at the queue now (after a submit, a finished task, a setting change)."""
        self._wake.set()

    def pause_provider(self, provider: str, seconds: float) -> None:
        """A provider answered 429: hold its tasks for ``seconds``, also after a restart."""
        until = max(self._paused_until.get(provider, 0), time.time() + seconds)
        self._paused_until[provider] = until
        # Not awaited: the pause holds here at once; the stored copy is for the next engine.
        self.engine.store.write(wr.pause_provider(provider, until)).add_done_callback(
            _log_failed_write)
        self.wake()

    async def restore_pauses(self) -> None:
        """Honour the pauses a previous engine stored (call before `run`)."""
        self._paused_until.update(
            await asyncio.to_thread(self.engine.store.provider_pauses, time.time()))

    async def run(self) -> None:
        """Apply requests and start what may start, every `POLL_INTERVAL` or when woken;
        until cancelled (the engine closes or loses the lease)."""
        while True:
            await self._step()
            self._wake.clear()
            # Not asyncio.wait_for: on 3.11 it can swallow a cancellation that arrives as
            # the wait ends, and this loop would then outlive Engine.close.
            try:
                async with asyncio.timeout(POLL_INTERVAL):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _step(self) -> None:
        try:
            await self.engine.apply_requests()
            await self._start_ready()
        except AgentdeckError as exc:  # the store failed, the lease was lost...
            log.warning("the queue could not be worked just now: %s", exc)
        except Exception:  # a bug: said, and the next step goes on
            log.exception("working the queue failed; going on")

    async def _start_ready(self) -> None:
        free = self.max_parallel - self.engine.active_count()
        if free <= 0:
            return
        now = time.time()
        # A bounded look past the first few: some may wait for a full endpoint or provider.
        queued = await asyncio.to_thread(self.engine.store.ready_tasks, now, free + LOOKAHEAD)
        runtime_room: dict[str, int | None] = {}
        provider_load = self.engine.provider_load()
        for task in queued:
            if free <= 0:
                break
            if not self._may_start(task, now, runtime_room, provider_load):
                continue
            if await self._claim(task):
                free -= 1
                if task.runtime in runtime_room and runtime_room[task.runtime] is not None:
                    runtime_room[task.runtime] -= 1  # type: ignore[operator]

    def _may_start(self, task: Task, now: float, runtime_room: dict[str, int | None],
                   provider_load: dict[str, int]) -> bool:
        if task.runtime not in runtime_room:
            try:
                runtime_room[task.runtime] = self.engine.runtime(task.runtime).free_slots()
            except AgentdeckError:
                runtime_room[task.runtime] = None  # the runner reports the real error
        room = runtime_room[task.runtime]
        if room is not None and room <= 0:
            return False
        provider, cap = self.engine.provider_cap(task.agent)
        if provider:
            if self._paused_until.get(provider, 0) > now:
                return False
            if cap is not None and provider_load.get(provider, 0) >= cap:
                return False
            provider_load[provider] = provider_load.get(provider, 0) + 1
        return True

    async def _claim(self, task: Task) -> bool:
        """Start ``task``; False if it did not start (an error is logged, not raised)."""
        try:
            await self.engine.start_task(task)
        except IllegalTransition:
            return False  # someone else moved it (cancelled meanwhile)
        except LeaseLost:
            raise  # no other task may start either
        except AgentdeckError as exc:
            log.warning("task %s did not start: %s", task.id, exc)
            return False
        except Exception:
            log.exception("starting task %s failed", task.id)
            return False
        return True


def _log_failed_write(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("could not store a provider pause", exc_info=future.exception())


def default_max_parallel(cpu_count: Callable[[], int | None] | None = None) -> int:
    """The number of cores, at least 2."""
    import os
    count = (cpu_count or os.cpu_count)() or 2
    return max(2, count)
