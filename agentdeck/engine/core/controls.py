"""Queue control actions: cancel, retry, follow-up, and the requests other processes file
for the engine that drives the queue."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any, Callable

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.runners import Runners
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.db import Store
from agentdeck.engine import validate
from agentdeck.engine.errors import AgentdeckError, IllegalTransition, InvalidInput, LeaseLost
from agentdeck.engine.models import ReviewState, Task, TaskState

log = logging.getLogger(__name__)


class Controls:
    """Moves tasks on the user's word.

    Args:
        store: where a request for the driving engine is filed.
        states: stores and announces each change.
        queries: finds a task by id or prefix.
        runners: the attempts this engine runs (a cancel stops one).
        wake: tells the scheduler that a task was queued again.
    """

    def __init__(self, store: Store, states: TaskStates, queries: Queries, runners: Runners,
                 wake: Callable[[], None]) -> None:
        self._store = store
        self._states = states
        self._queries = queries
        self._runners = runners
        self._wake = wake
    async def apply_requests(self) -> None:
        """Carry out requests other processes filed (only the driving engine does).

        A request may be stale (the task ended after the CLI read it running): what fails
        in one request is logged, and the others are carried out.
        """
        for task_id, request in await asyncio.to_thread(self._store.pending_requests):
            try:
                await self._states.fenced_write(wr.update_task(task_id, requested=None))
                if request == "cancel":
                    await self.cancel(task_id)
            except LeaseLost:
                raise
            except AgentdeckError as exc:
                log.info("request %r for task %s dropped: %s", request, task_id, exc)
            except Exception:
                log.exception("request %r for task %s failed", request, task_id)

    async def cancel(self, task_id: str) -> Task:
        """Cancel a queued or running task (running: SIGTERM, grace, SIGKILL)."""
        task = await self._queries.get_task(task_id)
        if task.state in (TaskState.QUEUED, TaskState.NEEDS_INPUT):
            return await self._states.transition(task.id, expect=[task.state],
                                                 state=TaskState.CANCELLED,
                                                 finished_at=time.time())
        if not task.state.is_active:
            raise InvalidInput(f"task {task.id} is {task.state.value}: nothing to cancel")
        runner = self._runners.get(task.id)
        if runner is not None:
            await runner.cancel()
        elif self._states.epoch is None:  # the driving engine cancels it
            await self._store.awrite(wr.update_task(task.id, requested="cancel"))
        return await self._queries.get_task(task.id)

    async def retry(self, task_id: str) -> Task:
        """Run a finished task again from its snapshot, as a new attempt (old log kept).

        A task whose change was accepted or rejected stays as decided: a retry would
        reset that review and offer the same change again."""
        task = await self._queries.get_task(task_id)
        if task.state.is_terminal and task.review.is_settled:
            raise InvalidInput(f"task {task.id} was {task.review.value}: that decision is "
                               "final; submit the prompt again as a new task")
        return await self._requeue(task_id, follow_up=None)

    async def follow_up(self, task_id: str, message: str, *,
                        also: Callable[[sqlite3.Connection], Any] | None = None) -> Task:
        """Send a new instruction to a finished task: a new attempt in the same working copy.

        Args:
            also: A write stored in the same transaction as the requeue (what a change
                request records), after it.
        """
        validate.prompt(message, "the follow-up message")
        return await self._requeue(task_id, follow_up=message, also=also)

    async def _requeue(self, task_id: str, follow_up: str | None,
                       also: Callable[[sqlite3.Connection], Any] | None = None) -> Task:
        task = await self._queries.get_task(task_id)
        if not task.state.can_requeue:
            raise InvalidInput(f"task {task.id} is {task.state.value}; wait for it to end "
                               "or cancel it first")
        op = wr.update_task(
            task.id, expect=[task.state], state=TaskState.QUEUED, attempt=task.attempt + 1,
            follow_up=follow_up, review=ReviewState.NONE, exit_code=None, error=None,
            finished_at=None, not_before=None, question=None)
        task = await self._states.fenced_write(op if also is None else wr.then(op, also))
        self._states.announce(task)
        self._wake()
        return task

    async def cancel_queued(self, batch_id: str, reason: str) -> None:
        """Cancel the batch's tasks that have not started (its budget is spent)."""
        for task in await self._queries.list_tasks(state="queued", batch_id=batch_id):
            try:
                await self._states.transition(task.id, expect=[TaskState.QUEUED],
                                              state=TaskState.CANCELLED, error=reason,
                                              finished_at=time.time())
            except IllegalTransition:
                pass  # it started meanwhile: its own budget check stops it
