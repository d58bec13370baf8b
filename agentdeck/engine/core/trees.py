"""The base tree of a task, as runtimes that keep it as an image layer take it."""
from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, Awaitable, Callable

from agentdeck.engine.models import AgentProfile, Task
from agentdeck.engine.runtimes.base import Runtime, TreeSource
from agentdeck.engine.workspace import Workspace


def tree_source(workspace: Workspace, repo: str, base: str) -> TreeSource:
    """``base`` of ``repo``: its files as a tar and its ignore rules, from the objects."""
    return TreeSource(repo, base, write_tar=partial(workspace.tree_tar, repo, base),
                      rules=partial(workspace.base_rules, repo, base))


def starts_from_tree(runtime: Runtime, profile: AgentProfile, task: Task) -> bool:
    """Whether the attempt starts from a layer of its base tree (only its changes come
    back). Not with a setup script: what it installs (often ignored files) must reach
    the agent, so such a profile keeps the full copy."""
    return runtime.starts_from_tree and not profile.setup and bool(task.base_commit)


class BaseWarmer:
    """Builds the base layers of a queued batch in the background, one per (repo, base,
    runtime, image), so that its first tasks start as fast as the later ones."""

    def __init__(self, workspace: Workspace, runtime: Callable[[str], Runtime],
                 profile: Callable[[str], AgentProfile],
                 spawn: Callable[[Awaitable[Any]], "asyncio.Task[Any]"]) -> None:
        self._workspace, self._runtime, self._profile = workspace, runtime, profile
        self._spawn = spawn

    def batch_queued(self, tasks: list[Task]) -> None:
        seen: set[tuple[str, str, str, str]] = set()
        for task in tasks:
            profile = self._profile(task.agent)
            if profile.kind == "builtin":  # its tools run on another runtime's sandbox
                continue
            runtime = self._runtime(task.runtime)
            key = (task.repo, task.base_commit, task.runtime, profile.image)
            if key in seen or not starts_from_tree(runtime, profile, task):
                continue
            seen.add(key)
            self._spawn(runtime.warm(tree_source(self._workspace, task.repo, task.base_commit),
                                     profile.image))
