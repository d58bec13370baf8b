"""Freshen: move waiting tasks' changes onto the branch's current head, or hand a
conflicting one back to its agent with the conflict."""
from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Callable, Sequence

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.reviews import check_reviewable
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import OPEN_REVIEWS, AgentProfile, Freshening, ReviewState, Task
from agentdeck.engine.validate import MAX_PROMPT_BYTES
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.workspace.freshen import Freshened
from agentdeck.engine.workspace.names import escape_name

FollowUp = Callable[[str, str], Awaitable[Task]]


class Freshener:
    """Rebases tasks waiting for review onto the head of their branch.

    Args:
        workspace: the repos, refs and working copies.
        states: stores and announces each task's new base and result.
        queries: finds tasks by id or prefix.
        follow_up: queues a follow-up for a task (a conflict handed back).
        profile: a profile by name (a shell agent's prompt is a script: the conflict
            comes to it as ``#`` lines, and its working copy keeps the markers).
    """

    def __init__(self, workspace: Workspace, states: TaskStates, queries: Queries,
                 follow_up: FollowUp, profile: Callable[[str], AgentProfile]) -> None:
        self._workspace = workspace
        self._states = states
        self._queries = queries
        self._follow_up = follow_up
        self._profile = profile

    async def freshen(self, task_ids: Sequence[str], *,
                      hand_back: bool = False) -> list[Freshening]:
        """Freshen each task, in order; every check runs before the first one changes.

        Args:
            hand_back: A task whose change conflicts gets its copy on the new head with
                the conflict markers and a follow-up naming the conflicts; without it the
                task is marked ``conflict`` and keeps its old base.

        Raises:
            InvalidInput: a task is running, settled, or has no change; no task named.
            RepoError: the user's checkout is dirty, detached or on another branch.
        """
        tasks = await self.checked(task_ids)
        branches = [await asyncio.to_thread(self._workspace.check_target, t.repo,
                                            t.base_commit or "") for t in tasks]
        return [await self.freshen_one(task, branch, hand_back=hand_back)
                for task, branch in zip(tasks, branches)]

    async def checked(self, task_ids: Sequence[str]) -> list[Task]:
        """The named tasks, each waiting for review with a change (else InvalidInput)."""
        if not task_ids:
            raise InvalidInput("name at least one task")
        tasks: list[Task] = []
        for task_id in task_ids:
            task = await self._queries.get_task(task_id)
            check_reviewable(task)
            if not (task.result_commit and task.base_commit):
                raise InvalidInput(f"task {task.id} has no recorded change")
            if task.id in {t.id for t in tasks}:
                raise InvalidInput(f"task {task.id} is named twice")
            tasks.append(task)
        return tasks

    async def freshen_one(self, task: Task, branch: str, *, hand_back: bool) -> Freshening:
        """Freshen one checked task (`checked`) whose checkout was checked."""
        assert task.base_commit and task.result_commit
        fresh = await asyncio.to_thread(self._workspace.freshen, task.id, task.repo,
                                        task.base_commit, task.result_commit,
                                        keep_conflicts=hand_back)
        if fresh is None:
            return Freshening(task.id, "current")
        if fresh.conflicts and not hand_back:
            await self._states.transition(
                task.id, expect_review=list(OPEN_REVIEWS), review=ReviewState.CONFLICT,
                error=f"conflicts with {branch} in {_names(fresh.conflicts)}: freshen "
                      "with --hand-back to give the conflict to its agent")
            return Freshening(task.id, "conflict", fresh.conflicts)
        diff = await asyncio.to_thread(self._workspace.diff_result, task.repo, fresh.base,
                                       fresh.commit)
        await self._states.transition(
            task.id, expect_review=list(OPEN_REVIEWS), review=ReviewState.PENDING,
            error=None, base_commit=fresh.base, result_commit=fresh.commit,
            files_changed=len(diff.files), lines_added=diff.added, lines_removed=diff.removed,
            unsafe=json.dumps(list(diff.unsafe)) if diff.unsafe else None)
        if not fresh.conflicts:
            return Freshening(task.id, "freshened")
        message = hand_back_message(fresh, branch)
        if self._is_script(task):
            message = "".join(f"# {line}".rstrip() + "\n" for line in message.splitlines())
        await self._follow_up(task.id, message)
        return Freshening(task.id, "handed_back", fresh.conflicts)


    def _is_script(self, task: Task) -> bool:
        try:
            return self._profile(task.agent).kind == "shell"
        except NotFound:  # the profile was removed since: tell it in words
            return False


def _names(paths: Sequence[str]) -> str:
    return ", ".join(map(escape_name, paths))


def hand_back_message(fresh: Freshened, branch: str) -> str:
    """The follow-up for a conflict: what happened, the files, and each conflict hunk
    (cut to fit a prompt)."""
    intro = (f"Your change no longer merges cleanly with {branch}, which moved on since "
             f"you started (it is now at {fresh.base[:12]}). Your working copy now holds "
             f"your change on top of the new {branch}, with git's conflict markers in "
             f"{_names(fresh.conflicts)}. Resolve every conflict (keep what both sides "
             "meant), remove all the markers, and check that the result still works.\n\n"
             "The conflicts:\n")
    budget = MAX_PROMPT_BYTES // 2 - len(intro.encode())
    parts: list[str] = []
    for path, hunk in fresh.hunks.items():
        part = f"\n--- {escape_name(path)}\n{hunk}\n"
        if len(part.encode()) > budget:
            parts.append("\n(more conflicts: see the markers in the files)\n")
            break
        budget -= len(part.encode())
        parts.append(part)
    return intro + "".join(parts)
