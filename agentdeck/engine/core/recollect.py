"""Collect again from a container kept because the agent's change was over a limit.

No work is lost to a cap: the attempt ended failed with the reason, its container stayed;
the user looks at what the agent did, raises the limit and collects again. The change is
then captured like at the end of an attempt and goes to review; the container is removed.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Callable

from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.core.trees import tree_source
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile, ReviewState, Task
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.workspace import Workspace


class Recollect:
    """`collect`: one action, the same from the GUI and ``agentdeck collect``."""

    def __init__(self, home: Path, workspace: Workspace, queries: Queries, states: TaskStates,
                 runtimes: RuntimeRegistry, profile: Callable[[str], AgentProfile]) -> None:
        self._home, self._workspace, self._queries = home, workspace, queries
        self._states, self._runtimes, self._profile = states, runtimes, profile

    async def collect(self, task_id: str, max_files: int | None = None,
                      max_bytes: int | None = None) -> Task:
        """Copy the kept container's change back with these limits, capture it, review it.

        Raises:
            InvalidInput: a limit under 1, or the task keeps no container.
            OverLimit: still over the limits (the container stays).
            RuntimeUnavailable: the container or its daemon is gone.
        """
        for name, value in (("--max-files", max_files), ("--max-bytes", max_bytes)):
            if value is not None and value < 1:
                raise InvalidInput(f"{name} must be a positive number, not {value}")
        task = await self._queries.get_task(task_id)
        if not task.state.is_terminal or not task.sandbox_ref or not task.workdir:
            raise InvalidInput(f"task {task.id} keeps no container to collect from (one is "
                               "kept only when the agent's change was over a limit)")
        runtime = self._runtimes.get(task.runtime)
        spec = LaunchSpec(task.id, task.attempt, (), Path(task.workdir),
                          self._profile(task.agent),
                          run_dir=self._home / "runs" / task.id / str(task.attempt),
                          tree=tree_source(self._workspace, task.repo, task.base_commit))
        collected = await runtime.recollect(spec, task.sandbox_ref, max_files, max_bytes)
        diff = await asyncio.to_thread(
            self._workspace.capture, task.id, task.repo, task.base_commit, spec.workdir,
            collected.removed if collected else None, max_files=max_files,
            max_bytes=max_bytes)
        limits = ", ".join(f"{name} {value}" for name, value in
                           (("max files", max_files), ("max bytes", max_bytes)) if value)
        return await self._states.transition(
            task.id, sandbox_ref=None, result_commit=diff.commit,
            files_changed=len(diff.files), lines_added=diff.added, lines_removed=diff.removed,
            unsafe=json.dumps(list(diff.unsafe)) if diff.unsafe else None,
            review=ReviewState.PENDING if diff.files else ReviewState.NONE,
            error=f"{task.error}; collected again ({limits or 'same limits'})")
