"""The base tree of a task, as runtimes that keep it as an image layer take it."""
from __future__ import annotations

from functools import partial

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
