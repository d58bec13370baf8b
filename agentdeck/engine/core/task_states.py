"""Task state changes: stored first (compare-and-set, fenced with the lease epoch), then
announced on the bus; and rows other processes changed, announced as they are seen."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol, Sequence

from agentdeck.engine.errors import LeaseLost
from agentdeck.engine.events import EventBus, TaskUpdated
from agentdeck.engine.models import ReviewState, Task, TaskState
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.db import Store

WATCH_INTERVAL = 1.0


class Fence(Protocol):
    """What fencing needs of the lease: its epoch, and to hear that it was lost."""

    epoch: int | None

    def lost(self) -> None: ...


class TaskStates:
    """Writes of task rows and their announcements.

    Args:
        store: the database.
        fence: the lease whose epoch fences the driving engine's writes.
        bus: where changes are announced.
    """

    def __init__(self, store: Store, fence: Fence, bus: EventBus) -> None:
        self._store = store
        self._fence = fence
        self._bus = bus
        self._announced: dict[str, float] = {}  # task id -> when we last announced it
        self._watch_since = time.time()

    @property
    def epoch(self) -> int | None:
        """The lease epoch this engine drives under (None: it does not drive)."""
        return self._fence.epoch

    async def fenced_write(self, op: Any, epoch: int | None = None) -> Any:
        """A write of the driving engine: refused (`LeaseLost`) when the lease has been
        taken since ``epoch`` (default: the current epoch; none when not driving)."""
        try:
            return await self._store.awrite(
                wr.fenced(op, epoch if epoch is not None else self.epoch))
        except LeaseLost:
            self._fence.lost()
            raise

    async def transition(self, task_id: str, *, expect: Sequence[TaskState] | None = None,
                         expect_review: Sequence[ReviewState] | None = None,
                         epoch: int | None = None, **fields: Any) -> Task:
        """Store a change (checked by the state machine, fenced like `fenced_write`),
        then announce it."""
        task = await self.fenced_write(
            wr.update_task(task_id, expect=expect, expect_review=expect_review, **fields),
            epoch)
        self.announce(task)
        return task

    async def record_attempt(self, task: Task, state: TaskState, error: str | None,
                             epoch: int | None = None) -> None:
        await self.fenced_write(wr.record_attempt(
            task.id, task.attempt, prompt=task.follow_up or task.prompt, state=state.value,
            exit_code=task.exit_code, error=error, started_at=task.started_at,
            finished_at=task.finished_at, result_commit=task.result_commit), epoch)

    def announce(self, task: Task) -> None:
        self._announced[task.id] = time.time()
        self._bus.publish(TaskUpdated(task))

    async def watch(self) -> None:
        """Announce rows changed by other processes (a CLI accept, a CLI submit...)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            since, self._watch_since = self._watch_since, time.time() - 0.001
            for task, updated_at in await asyncio.to_thread(self._store.changed_since, since):
                if updated_at > self._announced.get(task.id, 0.0):  # not one of ours
                    self._bus.publish(TaskUpdated(task))
