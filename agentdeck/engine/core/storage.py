"""Storage lifecycle: what the tasks' files take on disk (`usage`) and removing what is no
longer needed (`collect_garbage`).

One rule decides what goes (`removal_reason`): files of no known task, of accepted tasks,
and of tasks over for longer than the retention setting whose change is decided
(rejected) or that have none to decide. A change still waiting for review is never
removed, nor is anything of an active task. With a task's files goes the container a
Docker task kept (over a collect limit); a Docker base layer goes once no task that is
kept starts from its (repo, commit), and a local runtime's reflink template once no
task the workspace keeps starts from its tree.
"""
from __future__ import annotations

import asyncio
import time

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import ReviewState, StorageEntry, StorageReport, Task
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace.workspace import Workspace

RETENTION_SETTING = "storage_retention_days"
DEFAULT_RETENTION_DAYS = 7.0
_DAY = 86400.0


def check_retention(value: object) -> float:
    """The retention setting as days (a number ≥ 0), else `InvalidInput`."""
    try:
        days = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"{RETENTION_SETTING} must be a number of days, not {value!r}") from None
    if not days >= 0:
        raise InvalidInput(f"{RETENTION_SETTING} must be 0 or more days, not {value!r}")
    return days


def removal_reason(task: Task | None, retention_days: float, now: float,
                   changed_at: float | None = None) -> str | None:
    """Why the files of ``task`` (``None``: no such task) may go now, else ``None``.

    The retention runs from the task's last change (``changed_at``, its row's
    ``updated_at``): for a rejected task that is the rejection, so a rejection can be
    undone (`Reviews.reopen`) for the whole retention, however old the task.
    """
    if task is None:
        return "no task has these files"
    if task.state.is_active:
        return None
    if task.review == ReviewState.ACCEPTED:
        return "accepted"
    if task.review.is_open:
        return None  # the user has not decided yet
    ended = changed_at or task.finished_at or task.created_at
    if now - ended < retention_days * _DAY:
        return None
    what = "rejected" if task.review == ReviewState.REJECTED else "ended"
    return f"{what} more than {retention_days:g} days ago"


class Storage:
    """`usage` and `collect_garbage` over the workspace's files and the stored tasks."""

    def __init__(self, store: Store, workspace: Workspace, runtimes: RuntimeRegistry) -> None:
        self._store = store
        self._workspace = workspace
        self._runtimes = runtimes

    def retention_days(self) -> float:
        return check_retention(self._store.get_setting(RETENTION_SETTING, DEFAULT_RETENTION_DAYS))

    async def usage(self) -> StorageReport:
        """Measure every task's files and private git dir (in a thread: it walks trees)
        and list the Docker base layers — only where a task ever ran on Docker, so an
        engine that only uses the local runtime never loads the Docker SDK for this."""
        tasks = await asyncio.to_thread(self._store.list_tasks)
        used = any(t.runtime == "docker" for t in tasks)
        layers = await self._runtimes.docker_base_images() if used else []
        return await asyncio.to_thread(self._usage, time.time(), tasks, layers)

    async def collect_garbage(self, dry_run: bool = False) -> StorageReport:
        """Remove every removable entry of `usage` (``dry_run``: nothing); returns the
        report the decision was made on, whose ``removable`` entries are what went."""
        report = await self.usage()
        if dry_run:
            return report
        for entry in report.removable:
            await self._remove_kept_container(entry.task_id)
            await asyncio.to_thread(self._workspace.remove_task_files, entry.task_id)
        await asyncio.to_thread(self._workspace.remove_unused_templates)
        await self._runtimes.remove_docker_bases(set(report.unused_layers))
        return report

    async def _remove_kept_container(self, task_id: str) -> None:
        try:
            task = await asyncio.to_thread(self._store.get_task, task_id)
        except NotFound:
            return
        if task.sandbox_ref and task.runtime == "docker":
            await self._runtimes.remove_kept_container(task.sandbox_ref)

    def _usage(self, now: float, all_tasks: list[Task], layers: list) -> StorageReport:
        retention = self.retention_days()
        tasks = {t.id: t for t in all_tasks}
        changed = self._store.changed_times()
        reasons = {t.id: removal_reason(t, retention, now, changed.get(t.id)) for t in all_tasks}
        seen: set[tuple[int, int]] = set()
        entries = []
        for task_id in sorted(self._workspace.copy_ids()):
            task = tasks.get(task_id)
            entries.append(StorageEntry(
                task_id, task.repo if task else "", task.state.value if task else "",
                task.review.value if task else "", self._workspace.task_bytes(task_id, seen),
                reasons[task_id] if task else removal_reason(None, retention, now)))
        repos = self._workspace.store_bytes(seen)
        for entry in entries:
            if entry.repo:
                repos[entry.repo] = repos.get(entry.repo, 0) + entry.bytes
        entries.sort(key=lambda e: (-e.bytes, e.task_id))
        needed = {(t.repo, t.base_commit) for t in all_tasks if reasons[t.id] is None}
        unused = tuple(sorted(layer.tag for layer in layers
                              if (layer.repo, layer.commit) not in needed))
        return StorageReport(tuple(entries), repos, {layer.tag: layer.size for layer in layers},
                             retention, unused)
