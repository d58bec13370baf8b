"""Storage lifecycle: what the tasks' files take on disk (`usage`) and removing what is no
longer needed (`collect_garbage`).

One rule decides what goes (`removal_reason`): files of no known task, of accepted tasks,
and of tasks over for longer than the retention setting whose change is decided
(rejected) or that have none to decide. A change still waiting for review is never
removed, nor is anything of an active task.
"""
from __future__ import annotations

import asyncio
import time

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import ReviewState, StorageEntry, StorageReport, Task
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

    def __init__(self, store: Store, workspace: Workspace) -> None:
        self._store = store
        self._workspace = workspace

    def retention_days(self) -> float:
        return check_retention(self._store.get_setting(RETENTION_SETTING, DEFAULT_RETENTION_DAYS))

    async def usage(self) -> StorageReport:
        """Measure every task's files and private git dir (in a thread: it walks trees)."""
        return await asyncio.to_thread(self._usage, time.time())

    async def collect_garbage(self, dry_run: bool = False) -> StorageReport:
        """Remove every removable entry of `usage` (``dry_run``: nothing); returns the
        report the decision was made on, whose ``removable`` entries are what went."""
        report = await self.usage()
        if not dry_run:
            for entry in report.removable:
                await asyncio.to_thread(self._workspace.remove_task_files, entry.task_id)
        return report

    def _usage(self, now: float) -> StorageReport:
        retention = self.retention_days()
        tasks = {t.id: t for t in self._store.list_tasks()}
        changed = self._store.changed_times()
        seen: set[tuple[int, int]] = set()
        entries = []
        for task_id in sorted(self._workspace.copy_ids()):
            task = tasks.get(task_id)
            entries.append(StorageEntry(
                task_id, task.repo if task else "", task.state.value if task else "",
                task.review.value if task else "", self._workspace.task_bytes(task_id, seen),
                removal_reason(task, retention, now, changed.get(task_id))))
        repos = self._workspace.store_bytes(seen)
        for entry in entries:
            if entry.repo:
                repos[entry.repo] = repos.get(entry.repo, 0) + entry.bytes
        entries.sort(key=lambda e: (-e.bytes, e.task_id))
        return StorageReport(tuple(entries), repos, {}, retention)
