"""How tasks went, side by side: a best-of-N group's attempts, a batch, last night.

Each task becomes a `TaskSummary` (state, diff size, duration, cost and, when it did
not succeed, why: its error and the last lines it wrote on stderr). Everything is read
from the store in a thread.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import Batch, Report, Task, TaskState, TaskSummary
from agentdeck.engine.store.db import Store
from agentdeck.engine.timeparse import last_night

#: What `Reports.report` takes for the tasks submitted since yesterday evening.
LAST_NIGHT = "last-night"
#: How many stderr lines a failure shows.
FAILURE_LINES = 5
#: Task states that did not end well (their summary says why).
_FAILED = frozenset({TaskState.FAILED, TaskState.TIMED_OUT, TaskState.CANCELLED})
#: Oldest first, in the order they were submitted.
_ORDER = "created_at, rowid"


class Reports:
    """Builds comparisons and reports from the store."""

    def __init__(self, store: Store, queries: Queries) -> None:
        self._store = store
        self._queries = queries

    async def compare(self, group: str) -> list[TaskSummary]:
        """The attempts of a best-of-N group (by group id, its unique prefix, or the id
        of one of its tasks), in the order they were submitted.

        Raises:
            NotFound: no such group or task; InvalidInput: the task is in no group.
        """
        return await asyncio.to_thread(self._compare, group.strip())

    def _compare(self, group: str) -> list[TaskSummary]:
        group_id = self._group_id(group)
        tasks = self._store.list_tasks(group_id=group_id, order=_ORDER)
        return [self._summary(t) for t in tasks]

    def _group_id(self, name: str) -> str:
        ids = self._store.find_group_ids(name) if name else []
        if name in ids or len(ids) == 1:
            return name if name in ids else ids[0]
        if len(ids) > 1:
            raise InvalidInput(f"group id prefix {name!r} is ambiguous: {', '.join(ids)}, ...")
        try:
            task = self._store.get_task(self._queries.resolve(name))
        except NotFound:
            raise NotFound(f"no best-of-N group or task with id {name!r}") from None
        if not task.group_id:
            raise InvalidInput(f"task {task.id} is not part of a best-of-N group (submit "
                               "with --attempts N or several --agent to make one)")
        return task.group_id

    async def report(self, which: str, now: datetime | None = None) -> Report:
        """The report of a batch (id, unique id prefix or name) or of `LAST_NIGHT`: the
        tasks submitted since yesterday 18:00 (local time, or ``now``'s zone).

        Raises:
            NotFound: no batch of that id or name (the message lists the recent ones).
        """
        return await asyncio.to_thread(self._report, which.strip(), now)

    def _report(self, which: str, now: datetime | None) -> Report:
        if which == LAST_NIGHT:
            since = last_night(now)
            tasks = self._store.list_tasks(created_since=since, order=_ORDER)
            return Report(f"last night (since {_clock(since)})",
                          tuple(map(self._summary, tasks)), since)
        batch = self._batch(which)
        tasks = self._store.list_tasks(batch_id=batch.id, order=_ORDER)
        return Report(f"batch {batch.name} ({batch.id})", tuple(map(self._summary, tasks)))

    def _batch(self, which: str) -> Batch:
        batches = self._store.list_batches()  # newest first: a reused name means the last
        for match in (lambda b: b.id == which, lambda b: b.name == which,
                      lambda b: bool(which) and b.id.startswith(which)):
            found = [b for b in batches if match(b)]
            if found:
                return found[0]
        known = ", ".join(f"{b.name} ({b.id})" for b in batches[:5]) or "none yet"
        raise NotFound(f"no batch with id or name {which!r} (recent: {known}; or "
                       f"'{LAST_NIGHT}')")

    def _summary(self, task: Task) -> TaskSummary:
        return TaskSummary(
            id=task.id, title=task.title, agent=task.agent, state=task.state,
            review=task.review, files=task.files_changed, added=task.lines_added,
            removed=task.lines_removed, duration=duration(task), cost_usd=task.cost_usd,
            failure=self._failure(task), test_result=task.test_result,
            test_summary=task.test_summary)

    def _failure(self, task: Task) -> str | None:
        if task.state not in _FAILED:
            return None
        lines = self._store.stderr_tail(task.id, task.attempt, FAILURE_LINES)
        reason = task.error or f"{task.state.value} (no reason recorded)"
        quoted = set(reason.split("\n"))  # the runner quotes the tail of a failed exit
        return "\n".join([reason, *(line for line in lines if line not in quoted)])


def duration(task: Task) -> float | None:
    """Seconds the task's attempt ran (until now while it runs; ``None``: not started)."""
    if not task.started_at:
        return None
    return max(0.0, (task.finished_at or time.time()) - task.started_at)


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
