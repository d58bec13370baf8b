"""What the Review view reads to show a task's change, and the reads done ahead for the
task ``n`` opens next, so that pressing it only has to paint.

The engine reads of a change run together (`fetch`). `Prefetch` keeps the reads of the few
tasks next in the inbox, keyed by what a patch depends on (task, attempt, result commit),
so a new attempt is never shown from an old read.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentdeck.desktop.asyncutil import TaskRunner
from agentdeck.desktop.review.diff.first_file import FirstFile, prepare_first
from agentdeck.engine.models import Comment, Task

if TYPE_CHECKING:
    from agentdeck.engine.api import DiffResult, Engine

Key = tuple[str, int, "str | None"]


def review_key(task: Task) -> Key:
    """What a shown patch depends on: a new attempt or result commit means a new patch."""
    return (task.id, task.attempt, task.result_commit)


@dataclass(frozen=True)
class Fetched:
    """A task's change as the Review view shows it."""

    diff: "DiffResult | None"
    since: str | None       # the interdiff since the last change request, if any
    patch: str              # the whole change
    comments: list[Comment]
    hunks: dict[str, int]   # path -> hunks that can be left out one by one (whole change)
    first: FirstFile | None = None  # the patch's first file, parsed and highlighted


async def fetch(engine: "Engine", task_id: str, *, prepare: bool = False) -> Fetched:
    """Read a task's diff, interdiff, patch, comments and hunks (at once); with
    ``prepare`` also parse and highlight the patch's first file (in a thread)."""
    diff, since, patch, comments, hunks = await asyncio.gather(
        engine.get_diff(task_id), engine.get_interdiff(task_id), engine.get_patch(task_id),
        engine.comments(task_id), engine.get_hunks(task_id))
    first = await asyncio.to_thread(prepare_first, patch) if prepare else None
    counts = {f.change.path: len(f.hunks) for f in hunks if f.hunks}
    return Fetched(diff, since, patch, comments, counts, first)


class Prefetch:
    """The reads of the next few tasks' changes, started while the user reviews one."""

    SIZE = 3

    def __init__(self, engine: "Engine", runner: TaskRunner) -> None:
        self._engine = engine
        self._runner = runner
        self._reads: OrderedDict[Key, asyncio.Task[Fetched]] = OrderedDict()

    def take(self, task: Task) -> "asyncio.Task[Fetched] | None":
        """The read started for this snapshot of ``task`` (done or not), if any."""
        return self._reads.pop(review_key(task), None)

    def warm(self, task: Task | None) -> None:
        """Start reading ``task``'s change, unless that is under way or done."""
        if task is None or review_key(task) in self._reads:
            return
        # A failed read is only not used: the task's own load then says why.
        self._reads[review_key(task)] = self._runner.spawn(
            fetch(self._engine, task.id, prepare=True), on_error=lambda _exc: None)
        while len(self._reads) > self.SIZE:
            self._reads.popitem(last=False)[1].cancel()
