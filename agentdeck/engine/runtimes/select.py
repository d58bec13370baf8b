"""Which runtime a task uses, and the runtime instances of one engine.

"auto" (the default setting) means Docker whenever a Docker engine answers and has the
agent image, else the embedded local runtime — with a notice saying which and why, and
the same words in the log of each task that "auto" settled (`settle`).
"""
from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from typing import Any, Callable

from agentdeck.engine.errors import AgentdeckError, InvalidInput
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import Runtime

log = logging.getLogger(__name__)

KNOWN = ("local", "docker")
AUTO = "auto"
_DOCKER_MODULE = "agentdeck.engine.runtimes.docker.runtime"


class RuntimeRegistry:
    def __init__(self, home: Path, bus: EventBus, default: str,
                 pause_provider: Callable[[str, float], None],
                 docker_endpoints: list[str] | None = None,
                 on_egress: Callable[[str, str, bool], None] | None = None) -> None:
        if default not in KNOWN + (AUTO,):
            raise InvalidInput(f"unknown default runtime {default!r}: use auto, local or docker")
        self.home = home
        self.bus = bus
        self.default = default
        self._instances: dict[str, Runtime] = {}
        self._pause_provider = pause_provider
        self.docker_endpoints = list(docker_endpoints or [])
        self._on_egress = on_egress
        #: Why "auto" means what it means now (None until settled).
        self.auto_reason: str | None = None
        #: Task id -> the log line saying what "auto" chose for it (taken by its runner).
        self.auto_notes: dict[str, str] = {}

    def choose(self, requested: str | None, profile: AgentProfile) -> str:
        """The runtime name to store on a new task ("auto" is settled when it starts)."""
        name = requested or profile.runtime or self.default
        if name not in KNOWN + (AUTO,):
            raise InvalidInput(f"unknown runtime {name!r}: use local or docker")
        return name

    async def set_default(self, name: str) -> None:
        """Make ``name`` the default for tasks submitted or started from now on."""
        if name not in KNOWN + (AUTO,):
            raise InvalidInput(f"unknown default runtime {name!r}: use auto, local or docker")
        self.default = name
        await self.resolve_default()

    async def set_docker_endpoints(self, lines: list[str]) -> None:
        """Use these endpoint lines (`parse_endpoint`) for new containers from now on.

        Raises:
            InvalidInput: a line cannot be read, or an endpoint to remove still runs tasks.
        """
        from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, parse_endpoint
        endpoints = [parse_endpoint(line) for line in lines]
        runtime = self._instances.get("docker")
        if isinstance(runtime, DockerRuntime):
            await runtime.set_endpoints(endpoints)
        self.docker_endpoints = list(lines)

    async def resolve_default(self) -> str:
        """Settle "auto": docker if usable, else local (announced as a notice)."""
        if self.default != AUTO:
            return self.default
        try:
            # Its module imports the Docker SDK (~0.2 s): in a thread, not on the loop.
            await asyncio.to_thread(importlib.import_module, _DOCKER_MODULE)
            await self.get("docker").check()
        except Exception as exc:  # noqa: BLE001 - any failure means: not usable, say why
            self.default = "local"
            self.auto_reason = f"Using the local runtime (auto): Docker is not usable: {exc}"
            self.bus.publish(Notice("warning", self.auto_reason))
        else:
            self.default = "docker"
            self.auto_reason = ("Using the docker runtime (auto): a Docker engine answers and "
                                "has the agent image")
            self.bus.publish(Notice("info", self.auto_reason))
        return self.default

    def settle(self, task_id: str, name: str) -> str:
        """The runtime a task of runtime ``name`` starts on now; for "auto" the reason is
        kept for its log (`auto_notes`)."""
        if name != AUTO:
            return name
        settled = self._settled(AUTO)
        self.auto_notes[task_id] = self.auto_reason or f"Using the {settled} runtime (auto)"
        return settled

    def get(self, name: str) -> Runtime:
        """The runtime ``name``; ``builtin:<runtime>`` is the built-in agent's runtime
        with its tools on ``<runtime>``."""
        base, _, tools = name.partition(":")
        if base == "builtin":
            name = f"builtin:{self._settled(tools or 'local')}"
        else:
            name = self._settled(name)
        if name not in self._instances:
            self._instances[name] = self._make(name)
        return self._instances[name]

    def _settled(self, name: str) -> str:
        if name == AUTO:
            return self.default if self.default != AUTO else "local"
        return name

    def _make(self, name: str) -> Runtime:
        if name == "local":
            from agentdeck.engine.runtimes.local.runtime import LocalRuntime
            return LocalRuntime(on_egress=self._on_egress)
        if name.startswith("builtin:"):
            from agentdeck.engine.runtimes.inprocess import BuiltinRuntime
            tools = name.partition(":")[2]
            if tools not in KNOWN:
                raise InvalidInput(f"unknown runtime {tools!r}: use local or docker")
            return BuiltinRuntime(self.home, self._pause_provider,
                                  self.get("docker") if tools == "docker" else None)
        if name == "docker":
            from agentdeck.engine.runtimes.docker.runtime import DockerRuntime, parse_endpoint
            endpoints = [parse_endpoint(line) for line in self.docker_endpoints] or None
            return DockerRuntime(endpoints, home=self.home, on_egress=self._on_egress)
        raise InvalidInput(f"unknown runtime {name!r}: use local or docker")

    async def docker_base_images(self) -> list[Any]:
        """The base images (`runtimes.docker.baselayer.BaseImage`) of this data dir on the
        Docker endpoints that answer; none when Docker is not used here."""
        docker = await self._docker()
        return [] if docker is None else await docker.base_images()  # type: ignore[attr-defined]

    async def remove_docker_bases(self, tags: set[str]) -> list[str]:
        """Remove base images by tag (see `DockerRuntime.remove_base_images`)."""
        docker = await self._docker()
        return [] if docker is None or not tags else await docker.remove_base_images(tags)  # type: ignore[attr-defined]

    async def remove_kept_container(self, sandbox_ref: str) -> bool:
        """Remove the container a Docker task kept (see `DockerRuntime.remove_kept`)."""
        docker = await self._docker()
        return True if docker is None else await docker.remove_kept(sandbox_ref)  # type: ignore[attr-defined]

    async def _docker(self) -> Runtime | None:
        """The Docker runtime, made if needed; ``None`` when the Docker SDK cannot load.

        Its module (and the Docker SDK, ~0.2 s) is imported in a thread first: garbage
        collection asks for it when an engine starts, and the loop must not wait on it.
        """
        try:
            await asyncio.to_thread(importlib.import_module, _DOCKER_MODULE)
            return self.get("docker")
        except (ImportError, AgentdeckError) as exc:
            log.debug("no Docker runtime: %s", exc)
            return None

    async def remove_docker_orphans(self, known_task_ids: set[str]) -> list[str]:
        """Remove our containers (this data dir's label) that belong to no known task."""
        if "docker" not in self._instances:
            return []
        runtime = self._instances["docker"]
        return await runtime.remove_orphans(known_task_ids)  # type: ignore[attr-defined]

    async def close(self) -> None:
        for runtime in self._instances.values():
            try:
                await runtime.close()
            except Exception:
                log.exception("closing runtime %s failed", runtime)
        self._instances.clear()
