"""What follows an accept on the branch: the other waiting tasks of the repo are checked
against the new head, and those that now conflict are marked so before anyone opens
them; with the ``freshen_after_accept`` setting the clean ones are freshened onto it."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from agentdeck.engine.core.freshen import Freshener
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.models import ReviewState, Task
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.workspace.names import escape_name

log = logging.getLogger(__name__)

#: The stored setting: freshen the clean waiting tasks after each accept.
FRESHEN_SETTING = "freshen_after_accept"


class AfterAccept:
    """Re-checks a repo's waiting tasks once one of its tasks was accepted.

    Args:
        store: lists the repo's waiting tasks.
        workspace: merges each onto the new head (in the private dir only).
        states: marks the conflicting ones.
        freshener: freshens the clean ones when ``auto_freshen()`` says so.
    """

    def __init__(self, store: Store, workspace: Workspace, states: TaskStates,
                 freshener: Freshener, auto_freshen: Callable[[], bool]) -> None:
        self._store = store
        self._workspace = workspace
        self._states = states
        self._freshener = freshener
        self._auto_freshen = auto_freshen

    async def __call__(self, accepted: Task) -> list[Task]:
        """Re-check the others; returns those now marked conflicting. A failure here is
        logged, never the accept's: the accept has happened."""
        try:
            return await self._recheck(accepted)
        except AgentdeckError as exc:
            log.warning("re-checking tasks after accepting %s failed: %s", accepted.id, exc)
            return []

    async def _recheck(self, accepted: Task) -> list[Task]:
        waiting = await asyncio.to_thread(self._waiting, accepted)
        if not waiting:
            return []
        branch = (await asyncio.to_thread(self._workspace.inspect, accepted.repo)).branch
        marked, clean = [], []
        for task in waiting:
            assert task.base_commit and task.result_commit
            conflicts = await asyncio.to_thread(self._workspace.conflicts_on_head, task.repo,
                                                task.base_commit, task.result_commit)
            if not conflicts:
                clean.append(task)
                continue
            marked.append(await self._states.transition(
                task.id, expect_review=[ReviewState.PENDING], review=ReviewState.CONFLICT,
                error=f"conflicts with {branch or 'HEAD'} after {accepted.id} in "
                      f"{', '.join(map(escape_name, conflicts))}"))
        if clean and self._auto_freshen():
            await self._freshen(clean, branch or "HEAD")
        return marked

    def _waiting(self, accepted: Task) -> list[Task]:
        return [t for t in self._store.list_tasks(repo=accepted.repo,
                                                  review=[ReviewState.PENDING.value])
                if t.id != accepted.id and not t.state.is_unfinished
                and t.base_commit and t.result_commit]

    async def _freshen(self, tasks: list[Task], branch: str) -> None:
        for task in tasks:
            try:
                await self._freshener.freshen_one(task, branch, hand_back=False)
            except AgentdeckError as exc:
                log.info("task %s not freshened after the accept: %s", task.id, exc)
