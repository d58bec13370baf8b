"""Review actions: read a task's diff, accept it, reject it, undo a rejection."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Awaitable, Callable, Sequence

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.runners import Runners
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.errors import AgentdeckError, ConflictError, InvalidInput
from agentdeck.engine.models import OPEN_REVIEWS, ReviewState, Task
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import DiffResult, FileHunks, Workspace
from agentdeck.engine.workspace.types import AcceptResult

log = logging.getLogger(__name__)

#: The stored setting that makes every accept on the current branch run the user's hooks.
RUN_HOOKS_SETTING = "accept_run_hooks"


class Reviews:
    """Reads and settles what an agent changed.

    Args:
        store: the settings (whether an accept runs the user's hooks).
        workspace: the repos and working copies.
        states: stores and announces each review change.
        queries: finds a task by id or prefix.
        cancel: cancels a task that is still running when it is rejected.
        runners: the attempts running here (a rejected task's attempt must end first).
        after_accept: told of each task accepted onto the current branch (the other
            waiting tasks are re-checked against the new head).
    """

    def __init__(self, store: Store, workspace: Workspace, states: TaskStates,
                 queries: Queries, cancel: Callable[[str], Awaitable[Task]],
                 runners: Runners,
                 after_accept: Callable[[Task], Awaitable[Any]] | None = None) -> None:
        self._store = store
        self._workspace = workspace
        self._states = states
        self._queries = queries
        self._cancel = cancel
        self._runners = runners
        self._after_accept = after_accept

    async def get_patch(self, task_id: str, paths: Sequence[str] | None = None) -> str:
        """The unified diff (git format, binary included) of what the agent changed."""
        task = await self._queries.get_task(task_id)
        if not task.result_commit:
            return ""
        return await asyncio.to_thread(self._workspace.patch, task.repo, task.base_commit,
                                       task.result_commit, list(paths) if paths else None)

    async def get_diff(self, task_id: str) -> DiffResult | None:
        """Files with status and +/- counts, and the paths refused as unsafe."""
        task = await self._queries.get_task(task_id)
        if not task.result_commit:
            return None
        return await asyncio.to_thread(self._workspace.diff_result, task.repo,
                                       task.base_commit, task.result_commit)

    async def get_hunks(self, task_id: str) -> list[FileHunks]:
        """Each changed file with its hunks (``PATH#N``), or as one whole-file unit."""
        task = await self._queries.get_task(task_id)
        if not task.result_commit:
            return []
        return await asyncio.to_thread(self._workspace.file_hunks, task.repo,
                                       task.base_commit, task.result_commit)

    async def accept(self, task_id: str, *, only: Sequence[str] = (),
                     exclude: Sequence[str] = (), branch: bool = False,
                     run_hooks: bool | None = None, settle: bool = True) -> AcceptResult:
        """Apply the change to the user's repo as one commit (or only branch
        ``agentdeck/<id>``). On conflict the repo is left untouched, review becomes
        ``conflict`` and `ConflictError` names the files.

        Args:
            only: ``PATH`` / ``PATH#N`` selectors of what to apply (empty: everything).
            exclude: Selectors of the files and hunks left out.
            run_hooks: Commit through the user's ``git commit`` so their hooks run;
                ``None`` follows the ``accept_run_hooks`` setting (off unless set) for a
                commit on the current branch.
            settle: Delete the working copy and re-check the repo's other waiting tasks
                against the new head now; the merge queue does both itself, off the path
                of its next accept (`discard_copy`, and `recheck` once at its end).

        Returns:
            The commit (and branch) made, with notes on what differed from a plain
            ``git commit`` (hooks not run) for the caller to show.
        """
        task = await self._queries.get_task(task_id)
        check_reviewable(task)
        if run_hooks is None:
            run_hooks = not branch and bool(self._store.get_setting(RUN_HOOKS_SETTING, False))
        try:
            result = await asyncio.to_thread(
                self._workspace.accept, task.id, task.repo, task.base_commit,
                task.result_commit, commit_message(task), only=list(only),
                exclude=list(exclude), branch=branch,
                run_hooks=run_hooks)
        except ConflictError as exc:
            await self.mark_conflict(task.id, exc)
            raise
        accepted = await self._states.transition(task.id, expect_review=list(OPEN_REVIEWS),
                                                 review=ReviewState.ACCEPTED, approved_at=None)
        if not branch and settle:
            await self.discard_copy(task.id)
        if task.group_id:
            rejected = await self._reject_siblings(task)
            if rejected:
                result = replace(result, notes=(*result.notes, (
                    f"the other {rejected} attempt(s) of group {task.group_id} were "
                    "rejected and their working copies removed")))
        if not branch and settle:
            await self.recheck(accepted)
        return result

    async def discard_copy(self, task_id: str) -> None:
        """Delete an accepted task's working copy, index and private refs."""
        await asyncio.to_thread(self._workspace.discard, task_id)

    async def recheck(self, accepted: Task) -> None:
        """Tell ``after_accept`` that ``accepted`` moved its branch."""
        if self._after_accept is not None:
            await self._after_accept(accepted)

    async def mark_conflict(self, task_id: str, exc: ConflictError) -> Task:
        """Record that the task's change conflicts with its branch (review ``conflict``)."""
        return await self._states.transition(task_id, expect_review=list(OPEN_REVIEWS),
                                             review=ReviewState.CONFLICT,
                                             error=f"{exc} ({', '.join(exc.files)})")

    async def reject(self, task_id: str) -> Task:
        """Refuse the agent's change (a task not finished yet is cancelled first). Its
        working copy is kept for the storage retention (`core.storage`) so that `reopen`
        can undo this; garbage collection removes it after that."""
        task = await self._queries.get_task(task_id)
        if task.state.is_unfinished:
            await self._cancel(task.id)
            await self._runners.wait_idle(task.id)
        return await self._states.transition(task.id, review=ReviewState.REJECTED)

    async def reopen(self, task_id: str) -> Task:
        """Undo a rejection: the change waits for review again.

        Raises:
            InvalidInput: the task is not rejected, had no change, or its working copy
                was removed since (garbage collection, an accept of another attempt).
        """
        task = await self._queries.get_task(task_id)
        if task.review != ReviewState.REJECTED:
            raise InvalidInput(f"task {task.id} is not rejected (its review is "
                               f"{task.review.value}): nothing to reopen")
        if not task.result_commit or not task.files_changed:
            raise InvalidInput(f"task {task.id} changed no file: there is no change to reopen")
        if not await asyncio.to_thread(self._workspace.workdir(task.id).is_dir):
            raise InvalidInput(
                f"task {task.id} cannot be reopened: its working copy was removed (rejected "
                f"copies are kept for storage_retention_days, then removed by gc); "
                f"`agentdeck retry {task.id}` runs it again")
        return await self._states.transition(task.id, expect_review=[ReviewState.REJECTED],
                                             review=ReviewState.PENDING)

    async def _reject_siblings(self, accepted: Task) -> int:
        """Best-of-N: one attempt was taken, so the others of its group are rejected
        and their working copies freed; returns how many were."""
        rejected = 0
        for sibling in await self._queries.list_tasks(group_id=accepted.group_id):
            if sibling.id == accepted.id or sibling.review.is_settled:
                continue
            try:
                await self.reject(sibling.id)
                # Not the user's reject: nothing to undo, so the copy goes now.
                await asyncio.to_thread(self._workspace.discard, sibling.id)
                rejected += 1
            except AgentdeckError as exc:  # it moved meanwhile (another process decided it)
                log.warning("attempt %s of group %s not rejected: %s", sibling.id,
                            accepted.group_id, exc)
        return rejected


def check_reviewable(task: Task) -> None:
    """Raise `InvalidInput` unless the task's change waits for a decision now."""
    if task.state.is_active:
        raise InvalidInput(f"task {task.id} is still {task.state.value}; wait for its diff")
    if not task.reviewable:
        what = {"none": "has no change to review", "accepted": "was already accepted",
                "rejected": "was rejected"}.get(task.review.value, task.review.value)
        raise InvalidInput(f"task {task.id} {what}")


def commit_message(task: Task) -> str:
    """An honest commit message: what was asked, which agent did it, which task."""
    body = task.follow_up and f"Follow-up: {task.follow_up}\n\n" or ""
    return (f"{task.title or 'agentdeck task'}\n\n{body}Prompt:\n{task.prompt}\n\n"
            f"Made by agent '{task.agent}' in agentdeck task {task.id} "
            f"(attempt {task.attempt}).\n")
