"""Reads for the front ends: tasks (by id or unique prefix), logs, counts, batches,
attempts, repos and working copies. Each reads SQLite, git or files in a thread."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import Batch, LogEntry, Task, review_order
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import RepoInfo, Workspace


class Queries:
    """What the store and the workspace tell about tasks; writes nothing but a flush."""

    def __init__(self, store: Store, workspace: Workspace) -> None:
        self._store = store
        self._workspace = workspace

    async def get_task(self, task_id: str) -> Task:
        return await asyncio.to_thread(lambda: self._store.get_task(self.resolve(task_id)))

    def resolve(self, task_id: str) -> str:
        """Accept a unique prefix of a task id, like git does for commits (blocking)."""
        ids = self._store.find_task_ids(task_id.strip())
        if task_id in ids:
            return task_id
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise NotFound(f"no task with id {task_id!r}")
        raise InvalidInput(f"task id prefix {task_id!r} is ambiguous: {', '.join(ids)}, ...")

    async def list_tasks(self, **filters: Any) -> list[Task]:
        return await asyncio.to_thread(self._store.list_tasks, **filters)

    async def review_queue(self, order: str = "oldest") -> list[Task]:
        """Every task waiting for review, whatever a front end filters, in inbox order
        (`review_order`)."""
        return review_order(await asyncio.to_thread(self._store.waiting_for_review), order)

    async def get_logs(self, task_id: str, **kw: Any) -> list[LogEntry]:
        """Stored entries (after_seq, before_seq, limit, newest), pending ones included."""
        await self._store.awrite(lambda conn: None)  # commit what the batch writer holds
        return await asyncio.to_thread(self._store.get_logs, task_id, **kw)

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self._store.counts)

    async def list_batches(self) -> list[Batch]:
        return await asyncio.to_thread(self._store.list_batches)

    async def batch_progress(self, batch_id: str) -> dict[str, int]:
        return await asyncio.to_thread(self._store.batch_progress, batch_id)

    async def attempts(self, task_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._store.attempts, task_id)

    async def inspect_repo(self, path: str | Path) -> RepoInfo:
        return await asyncio.to_thread(self._workspace.inspect, path)

    async def working_copy_path(self, task_id: str, relative: str = "") -> Path:
        """A file of a task's working copy ("": the folder), for a front end to open.

        Raises:
            NotFound: The working copy is gone (accepted or rejected), or ``relative``
                is not a file in it (paths leaving it are refused).
        """
        task = await self.get_task(task_id)
        return await asyncio.to_thread(_in_working_copy, task, relative)


def _in_working_copy(task: Task, relative: str) -> Path:
    workdir = Path(task.workdir) if task.workdir else None
    if workdir is None or not workdir.is_dir():
        raise NotFound(f"the working copy of task {task.id} is gone (accepted or rejected)")
    target = (workdir / relative).resolve() if relative else workdir
    if not target.is_relative_to(workdir.resolve()) or not target.exists():
        raise NotFound(f"{relative} is not in the working copy of task {task.id}")
    return target
