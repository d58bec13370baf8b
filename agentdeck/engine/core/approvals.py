"""Approving waiting tasks for the merge queue: a mark the reviewer sets, which "Accept
approved…" and `land --approved` take in the order they were approved."""
from __future__ import annotations

import asyncio
import time

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.reviews import check_reviewable
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.models import OPEN_REVIEWS, Task
from agentdeck.engine.store.db import Store


class Approvals:
    """Sets and lists the approval marks.

    Args:
        store: lists the approved tasks.
        states: stores and announces each mark.
        queries: finds a task by id or prefix.
    """

    def __init__(self, store: Store, states: TaskStates, queries: Queries) -> None:
        self._store = store
        self._states = states
        self._queries = queries

    async def approve(self, task_id: str, approved: bool = True) -> Task:
        """Mark (or unmark) a task waiting for review as approved for landing.

        Raises:
            InvalidInput: the task is running or its review is settled.
        """
        task = await self._queries.get_task(task_id)
        check_reviewable(task)
        return await self._states.transition(
            task.id, expect_review=list(OPEN_REVIEWS),
            approved_at=(task.approved_at or time.time()) if approved else None)

    async def approved(self) -> list[Task]:
        """The approved tasks still waiting for review, in the order they were approved."""
        tasks = await asyncio.to_thread(self._store.list_tasks,
                                        review=[r.value for r in OPEN_REVIEWS])
        return sorted((t for t in tasks if t.approved_at and not t.state.is_active),
                      key=lambda t: t.approved_at or 0.0)
