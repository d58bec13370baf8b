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


async def seed_demo(engine: Queue) -> list[Task]:
    """Queue the demo batch on the local runtime, once: only into an empty data dir."""
    if await engine.list_tasks(limit=1):
        return []
    repo = await asyncio.to_thread(ensure_sample_repo, engine.home / SAMPLE_DIR)
    spec = await asyncio.to_thread(parse_batch_file, resource_path("demo_batch.toml"),
                                   default_repo=str(repo))
    local = tuple(replace(t, runtime="local") for t in spec.tasks)  # no Docker needed
    return await engine.submit_batch(replace(spec, tasks=local))
