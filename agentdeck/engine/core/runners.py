"""The attempts this engine runs now, by task id: what the scheduler counts, what a
cancel reaches, and where an egress refusal is logged."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator

from agentdeck.engine.core.runner import AttemptRunner
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.models import EntryKind

Spawn = Callable[..., "asyncio.Task[Any]"]


class Runners:
    """The running attempts.

    Args:
        spawn: starts a background task (`Background.spawn`).
        wake: tells the scheduler a slot is free.
        bus: where an egress refusal of no running attempt is announced.
    """

    def __init__(self, spawn: Spawn, wake: Callable[[], None], bus: EventBus) -> None:
        self._spawn = spawn
        self._wake = wake
        self._bus = bus
        self._running: dict[str, AttemptRunner] = {}

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._running))

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._running

    def get(self, task_id: str) -> AttemptRunner | None:
        return self._running.get(task_id)

    def launch(self, runner: AttemptRunner) -> None:
        """Run ``runner`` as driving work; its slot is freed when it ends."""
        self._running[runner.task.id] = runner
        self._spawn(self._run(runner), driving=True)

    async def _run(self, runner: AttemptRunner) -> None:
        try:
            await runner.run()
        finally:  # a follow-up's runner may have taken the task's place already
            if self._running.get(runner.task.id) is runner:
                del self._running[runner.task.id]
            self._wake()

    def active_count(self) -> int:
        return len(self._running)

    def provider_load(self) -> dict[str, int]:
        """Running attempts per provider."""
        load: dict[str, int] = {}
        for runner in self._running.values():
            if runner.profile.provider:
                load[runner.profile.provider] = load.get(runner.profile.provider, 0) + 1
        return load

    async def wait_idle(self, task_id: str, timeout: float = 60.0) -> None:
        """Wait until no attempt of the task runs here."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while task_id in self._running and loop.time() < end:
            await asyncio.sleep(0.05)

    def on_egress(self, task_id: str, target: str, allowed: bool,
                  why: str | None = None) -> None:
        """The egress proxy's report: refused connections go into the task's log."""
        if allowed:
            return
        text = f"egress refused: {why}" if why else (
            f"egress refused: {target} is not on the profile's allowlist")
        runner = self._running.get(task_id)
        if runner is not None:
            runner.tasklog.system(text, EntryKind.ERROR)
        else:
            self._bus.publish(Notice("warning", text, task_id or None))
