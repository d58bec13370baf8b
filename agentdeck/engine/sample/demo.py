"""First-run demo: the sample repo and the demo batch, so a newcomer sees agents work."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from agentdeck.engine.batch.file import BatchSpec, parse_batch_file
from agentdeck.engine.models import Task
from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.sample.repo import ensure_sample_repo

SAMPLE_DIR = "sample-repo"


class Queue(Protocol):
    """What the demo uses of the engine's facade (which it does not import)."""

    home: Path

    async def list_tasks(self, **filters: Any) -> list[Task]: ...

    async def submit_batch(self, spec: BatchSpec) -> list[Task]: ...

    async def submit(self, repo: str | Path, prompt: str, **options: Any) -> Task: ...


async def seed_demo(engine: Queue) -> list[Task]:
    """Queue the demo batch on the local runtime, once: only into an empty data dir."""
    if await engine.list_tasks(limit=1):
        return []
    repo, spec = await _demo_batch(engine.home / SAMPLE_DIR)
    local = tuple(replace(t, runtime="local") for t in spec.tasks)  # no Docker needed
    return await engine.submit_batch(replace(spec, tasks=local))


#: The demo task a self-test runs: it needs only sh, sed and date (no python3 on the target).
SELF_TEST_TITLE = "Add a CHANGELOG entry for this version"


async def seed_self_test(engine: Queue, repo_dir: Path) -> Task:
    """Queue one demo task, without its pauses, on the local runtime, on a new copy of
    the sample repo at ``repo_dir`` (so it has a change to accept in any data dir).

    Raises:
        RepoError: ``repo_dir`` exists and is not an empty folder or a git repo.
    """
    repo, spec = await _demo_batch(repo_dir)
    task = next(t for t in spec.tasks if t.title == SELF_TEST_TITLE)
    return await engine.submit(repo, "export DEMO_PACE=0\n" + task.prompt, agent=task.agent,
                               runtime="local", title=task.title, timeout=task.timeout)


async def _demo_batch(repo_dir: Path) -> tuple[Path, BatchSpec]:
    """The sample repo at ``repo_dir`` (made if missing) and the demo batch on it."""
    repo = await asyncio.to_thread(ensure_sample_repo, repo_dir)
    spec = await asyncio.to_thread(parse_batch_file, resource_path("demo_batch.toml"),
                                   default_repo=str(repo))
    return repo, spec
