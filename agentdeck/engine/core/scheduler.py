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
from typing import Awaitable, Callable, Protocol

from agentdeck.engine.core.pauses import ProviderPauses
from agentdeck.engine.errors import AgentdeckError, IllegalTransition, LeaseLost
from agentdeck.engine.models import Task
from agentdeck.engine.runtimes.base import Runtime
from agentdeck.engine.store.db import Store

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
LOOKAHEAD = 500


class Load(Protocol):
    """What the scheduler counts of the attempts running now (`Runners`)."""

    def active_count(self) -> int: ...

    def provider_load(self) -> dict[str, int]: ...


class Scheduler:
    """Starts queued tasks while this engine drives the queue.

    Args:
        store: the queue.
        max_parallel: the global cap on running attempts (a setting can change it).
        bell: set to look at the queue now; shared with those that free a slot.
        pauses: the providers paused by a rate limit.
        load: the running attempts.
        apply_requests: carries out the requests other processes filed.
        start_task: claims a queued task and runs it.
        provider_cap: an agent's provider and that provider's cap.
        runtime: a runtime by name (for its free slots).
    """

    def __init__(self, store: Store, max_parallel: int, *, bell: asyncio.Event,
                 pauses: ProviderPauses, load: Load,
                 apply_requests: Callable[[], Awaitable[None]],
                 start_task: Callable[[Task], Awaitable[None]],
                 provider_cap: Callable[[str], tuple[str | None, int | None]],
                 runtime: Callable[[str], Runtime]) -> None:
        self.max_parallel = max_parallel
        self._store = store
        self._wake = bell
        self._pauses = pauses
        self._load = load
        self._apply_requests = apply_requests
        self._start_task = start_task
        self._provider_cap = provider_cap
        self._runtime = runtime

    def wake(self) -> None:
        """Look at the queue now (after a submit, a finished task, a setting change)."""
        self._wake.set()

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
            await self._apply_requests()
            await self._start_ready()
        except AgentdeckError as exc:  # the store failed, the lease was lost...
            log.warning("the queue could not be worked just now: %s", exc)
        except Exception:  # a bug: said, and the next step goes on
            log.exception("working the queue failed; going on")

    async def _start_ready(self) -> None:
        free = self.max_parallel - self._load.active_count()
        if free <= 0:
            return
        now = time.time()
        # A bounded look past the first few: some may wait for a full endpoint or provider.
        queued = await asyncio.to_thread(self._store.ready_tasks, now, free + LOOKAHEAD)
        runtime_room: dict[str, int | None] = {}
        provider_load = self._load.provider_load()
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
                runtime_room[task.runtime] = self._runtime(task.runtime).free_slots()
            except AgentdeckError:
                runtime_room[task.runtime] = None  # the runner reports the real error
        room = runtime_room[task.runtime]
        if room is not None and room <= 0:
            return False
        provider, cap = self._provider_cap(task.agent)
        if provider:
            if self._pauses.paused(provider, now):
                return False
            if cap is not None and provider_load.get(provider, 0) >= cap:
                return False
            provider_load[provider] = provider_load.get(provider, 0) + 1
        return True

    async def _claim(self, task: Task) -> bool:
        """Start ``task``; False if it did not start (an error is logged, not raised)."""
        try:
            await self._start_task(task)
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


def default_max_parallel(cpu_count: Callable[[], int | None] | None = None) -> int:
    """The number of cores, at least 2."""
    import os
    count = (cpu_count or os.cpu_count)() or 2
    return max(2, count)
