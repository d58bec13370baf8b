"""What an engine does while it holds the queue lease: re-attach to the attempts a
previous engine left, then run the scheduler; and stop both when the lease is lost."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from agentdeck.engine.core.attempts import Attempts
from agentdeck.engine.core.background import Background
from agentdeck.engine.core.pauses import ProviderPauses
from agentdeck.engine.core.scheduler import Scheduler
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.models import StorageReport, TaskState
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.store.db import Store

log = logging.getLogger(__name__)
#: Seconds between two garbage collections of task files (`Storage.collect_garbage`).
COLLECT_INTERVAL = 3600


class Driver:
    """The lease's hooks: `start` once it is taken, `stop` once it is lost."""

    def __init__(self, store: Store, bus: EventBus, background: Background, *,
                 states: TaskStates, runtimes: RuntimeRegistry, pauses: ProviderPauses,
                 attempts: Attempts, scheduler: Scheduler,
                 collect: Callable[[], Awaitable[StorageReport]]) -> None:
        self._store = store
        self._bus = bus
        self._background = background
        self._states = states
        self._runtimes = runtimes
        self._pauses = pauses
        self._attempts = attempts
        self._scheduler = scheduler
        self._collect = collect

    async def start(self) -> None:
        self._attempts.forget_counters()
        await self._pauses.restore()
        await self._recover()  # claimed tasks carry their settled runtime: no "auto" here
        self._background.spawn(self._schedule(), driving=True)
        self._background.spawn(self._collect_garbage(), driving=True)

    async def _schedule(self) -> None:
        """Settle "auto" before the first task starts, but not on the way out of
        `Engine.open`: it imports the Docker SDK and asks the daemon, which kept the
        desktop's first frame waiting."""
        await self._runtimes.resolve_default()
        await self._scheduler.run()

    async def stop(self) -> None:
        """Stop the scheduler and the runners; their agents keep running for the new
        holder to re-attach to (closing the runtimes stops taking in their output)."""
        await self._background.stop_driving()
        await self._runtimes.close()

    async def _recover(self) -> None:
        """Re-attach to sandboxes of a previous engine, also those it was launching (the
        runner requeues a preparing task whose agent never started)."""
        active = await asyncio.to_thread(
            self._store.list_tasks, state=["preparing", "running"], order="created_at")
        for task in active:
            if task.state == TaskState.RUNNING and not task.sandbox_ref:
                await self._states.transition(task.id, state=TaskState.QUEUED, sandbox_ref=None)
                continue
            await self._attempts.run(task, resume=True)
        if active:
            self._bus.publish(Notice("info", f"resumed {len(active)} task(s) after a restart"))
        self._background.spawn(self._remove_orphans())

    async def _collect_garbage(self) -> None:
        """Remove what no task needs any more (the rule of `agentdeck gc`: rejections
        past the retention, orphans...), now and every hour."""
        while True:
            try:
                removed = (await self._collect()).removable
            except AgentdeckError as exc:
                log.warning("could not remove the files of finished tasks: %s", exc)
            else:
                if removed:
                    log.info("removed the files of %d finished task(s)", len(removed))
            await asyncio.sleep(COLLECT_INTERVAL)

    async def _remove_orphans(self) -> None:
        known = {t.id for t in await asyncio.to_thread(self._store.list_tasks)}
        try:
            removed = await self._runtimes.remove_docker_orphans(known)
        except AgentdeckError as exc:
            log.warning("could not look for orphan containers: %s", exc)
            return
        if removed:
            self._bus.publish(Notice("info", f"removed {len(removed)} orphan container(s): "
                                             f"{', '.join(removed)}"))
