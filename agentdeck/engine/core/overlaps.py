"""The overlap radar: running or waiting tasks of one repo that touch the same files.

A waiting task's paths come from its result commit (cached by that commit: it never
changes). A running task's come from a no-follow walk of its working copy, which costs a
stat per file, so it is cached for `LIVE_TTL` seconds: asking again (a UI tick) within
that time costs nothing. Everything runs in one worker thread per question.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict

from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.models import OPEN_REVIEWS, Overlap, Task, TaskState
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import Workspace

log = logging.getLogger(__name__)

#: Seconds a running task's walked paths are reused before its copy is walked again.
LIVE_TTL = 10.0
_LIVE_STATES = (TaskState.PREPARING.value, TaskState.RUNNING.value)
_OPEN = tuple(review.value for review in OPEN_REVIEWS)


class OverlapRadar:
    """Finds the tasks whose changes touch the same files.

    Args:
        store: lists the running and waiting tasks.
        workspace: tells which paths each touches.
    """

    def __init__(self, store: Store, workspace: Workspace) -> None:
        self._store = store
        self._workspace = workspace
        self._cache: dict[str, tuple[str, float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    async def overlaps(self) -> dict[str, tuple[Overlap, ...]]:
        """Task id -> the other tasks it overlaps with (tasks without any left out)."""
        return await asyncio.to_thread(self._all)

    def _all(self) -> dict[str, tuple[Overlap, ...]]:
        tasks = self._candidates()
        with self._lock:
            touched = {task.id: self._paths(task) for task in tasks}
            for gone in self._cache.keys() - touched.keys():
                del self._cache[gone]
        by_repo: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            by_repo[task.repo].append(task)
        found: dict[str, list[Overlap]] = defaultdict(list)
        for group in by_repo.values():
            for i, one in enumerate(group):
                for other in group[i + 1:]:
                    shared = touched[one.id] & touched[other.id]
                    if shared:
                        paths = tuple(sorted(shared))
                        found[one.id].append(Overlap(other.id, paths))
                        found[other.id].append(Overlap(one.id, paths))
        return {task_id: tuple(items) for task_id, items in found.items()}

    def _candidates(self) -> list[Task]:
        """Tasks running now or waiting for review, oldest first."""
        live = self._store.list_tasks(state=_LIVE_STATES)
        waiting = [t for t in self._store.list_tasks(review=_OPEN)
                   if not t.state.is_unfinished and t.result_commit]
        return sorted(live + waiting, key=lambda t: t.created_at)

    def _paths(self, task: Task) -> frozenset[str]:
        """The task's touched paths, from the cache while still good."""
        live = task.state.is_active
        key = "live" if live else task.result_commit or ""
        hit = self._cache.get(task.id)
        if hit and hit[0] == key and (not live or time.monotonic() - hit[1] < LIVE_TTL):
            return hit[2]
        if not task.base_commit:
            return frozenset()
        try:
            paths = self._workspace.touched(task.id, task.repo, task.base_commit,
                                            None if live else task.result_commit)
        except AgentdeckError as exc:  # a copy gone or changing under the walk
            log.info("paths of task %s not known now: %s", task.id, exc)
            paths = hit[2] if hit else frozenset()
        self._cache[task.id] = (key, time.monotonic(), paths)
        return paths
