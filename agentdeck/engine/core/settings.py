"""The engine's stored settings (parallelism, default runtime, Docker endpoints, keeping
failed sandboxes, freshening waiting tasks after an accept), applied as they change."""
from __future__ import annotations

from typing import Any

from agentdeck.engine.core.after_accept import FRESHEN_SETTING
from agentdeck.engine.core.scheduler import Scheduler
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.runtimes.select import AUTO, KNOWN as KNOWN_RUNTIMES, RuntimeRegistry
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.db import Store


class Settings:
    """Reads and changes the settings.

    Args:
        store: where they are kept.
        runtimes: told of a new default runtime or new Docker endpoints.
        scheduler: told of a new ``max_parallel``.
    """

    def __init__(self, store: Store, runtimes: RuntimeRegistry, scheduler: Scheduler) -> None:
        self._store = store
        self._runtimes = runtimes
        self._scheduler = scheduler
        self.keep_failed_sandboxes = bool(store.get_setting("keep_failed_sandboxes", False))
        #: Freshen the waiting tasks that still merge cleanly after each accept.
        self.freshen_after_accept = bool(store.get_setting(FRESHEN_SETTING, False))

    async def update(self, **settings: Any) -> None:
        """Store and apply settings; runtime and endpoint changes count for tasks that
        start from now on (running ones go on where they are).

        Raises:
            InvalidInput: a bad runtime name or endpoint line, or an endpoint to remove
                still runs tasks (nothing is stored then).
        """
        runtime = settings.get("default_runtime")
        if runtime is not None and runtime not in (*KNOWN_RUNTIMES, AUTO):
            raise InvalidInput(f"unknown default runtime {runtime!r}: use auto, local or docker")
        current = await self.get()
        if settings.get("docker_endpoints", current["docker_endpoints"]) != current[
                "docker_endpoints"]:
            await self._runtimes.set_docker_endpoints(list(settings["docker_endpoints"]))
        if settings.get("default_runtime", current["default_runtime"]) != current[
                "default_runtime"]:
            await self._runtimes.set_default(settings["default_runtime"])
        for key, value in settings.items():
            await self._store.awrite(wr.set_setting(key, value))
        if "max_parallel" in settings:
            self._scheduler.max_parallel = int(settings["max_parallel"])
            self._scheduler.wake()
        if "keep_failed_sandboxes" in settings:
            self.keep_failed_sandboxes = bool(settings["keep_failed_sandboxes"])
        if FRESHEN_SETTING in settings:
            self.freshen_after_accept = bool(settings[FRESHEN_SETTING])

    async def get(self) -> dict[str, Any]:
        return {
            "max_parallel": self._scheduler.max_parallel,
            "default_runtime": self._store.get_setting("default_runtime", "auto"),
            "keep_failed_sandboxes": self.keep_failed_sandboxes,
            "docker_endpoints": self._store.get_setting("docker_endpoints", []),
            FRESHEN_SETTING: self.freshen_after_accept,
        }
