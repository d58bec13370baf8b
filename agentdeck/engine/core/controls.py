"""Queue control actions of the `Engine`: cancel, retry, follow-up, settings, and the
requests other processes file for the engine that drives the queue."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from agentdeck.engine.store import writes as wr
from agentdeck.engine import validate
from agentdeck.engine.errors import AgentdeckError, IllegalTransition, InvalidInput, LeaseLost
from agentdeck.engine.models import ReviewState, Task, TaskState
from agentdeck.engine.runtimes.select import AUTO, KNOWN as KNOWN_RUNTIMES

if TYPE_CHECKING:
    from agentdeck.engine.api import Engine

log = logging.getLogger(__name__)


class Controls:
    """Mixed into `Engine`; split out only to keep each module readable."""

    async def apply_requests(self: "Engine") -> None:
        """Carry out requests other processes filed (only the driving engine does).

        A request may be stale (the task ended after the CLI read it running): what fails
        in one request is logged, and the others are carried out.
        """
        for task_id, request in await asyncio.to_thread(self.store.pending_requests):
            try:
                await self.fenced_write(wr.update_task(task_id, requested=None))
                if request == "cancel":
                    await self.cancel(task_id)
            except LeaseLost:
                raise
            except AgentdeckError as exc:
                log.info("request %r for task %s dropped: %s", request, task_id, exc)
            except Exception:
                log.exception("request %r for task %s failed", request, task_id)

    async def cancel(self: "Engine", task_id: str) -> Task:
        """Cancel a queued or running task (running: SIGTERM, grace, SIGKILL)."""
        task = await self.get_task(task_id)
        if task.state in (TaskState.QUEUED, TaskState.NEEDS_INPUT):
            return await self.transition(task.id, expect=[task.state],
                                         state=TaskState.CANCELLED, finished_at=time.time())
        if not task.state.is_active:
            raise InvalidInput(f"task {task.id} is {task.state.value}: nothing to cancel")
        runner = self._runners.get(task.id)
        if runner is not None:
            await runner.cancel()
        elif not self.drives:
            await self.store.awrite(wr.update_task(task.id, requested="cancel"))
        return await self.get_task(task.id)

    async def retry(self: "Engine", task_id: str) -> Task:
        """Run a finished task again from its snapshot, as a new attempt (old log kept)."""
        return await self._requeue(task_id, follow_up=None)

    async def follow_up(self: "Engine", task_id: str, message: str) -> Task:
        """Send a new instruction to a finished task: a new attempt in the same working copy."""
        validate.prompt(message, "the follow-up message")
        return await self._requeue(task_id, follow_up=message)


    async def _requeue(self: "Engine", task_id: str, follow_up: str | None) -> Task:
        task = await self.get_task(task_id)
        if not (task.state.is_terminal or task.state == TaskState.NEEDS_INPUT):
            raise InvalidInput(f"task {task.id} is {task.state.value}; wait for it to end "
                               "or cancel it first")
        task = await self.transition(
            task.id, expect=[task.state], state=TaskState.QUEUED, attempt=task.attempt + 1,
            follow_up=follow_up, review=ReviewState.NONE, exit_code=None, error=None,
            finished_at=None, not_before=None, question=None)
        self.scheduler.wake()
        return task

    async def update_settings(self: "Engine", **settings: Any) -> None:
        """Store and apply settings; runtime and endpoint changes count for tasks that
        start from now on (running ones go on where they are).

        Raises:
            InvalidInput: a bad runtime name or endpoint line, or an endpoint to remove
                still runs tasks (nothing is stored then).
        """
        runtime = settings.get("default_runtime")
        if runtime is not None and runtime not in (*KNOWN_RUNTIMES, AUTO):
            raise InvalidInput(f"unknown default runtime {runtime!r}: use auto, local or docker")
        current = await self.get_settings()
        if settings.get("docker_endpoints", current["docker_endpoints"]) != current[
                "docker_endpoints"]:
            await self.runtimes.set_docker_endpoints(list(settings["docker_endpoints"]))
        if settings.get("default_runtime", current["default_runtime"]) != current[
                "default_runtime"]:
            await self.runtimes.set_default(settings["default_runtime"])
        for key, value in settings.items():
            await self.store.awrite(wr.set_setting(key, value))
        if "max_parallel" in settings:
            self.scheduler.max_parallel = int(settings["max_parallel"])
            self.scheduler.wake()
        if "keep_failed_sandboxes" in settings:
            self.keep_failed_sandboxes = bool(settings["keep_failed_sandboxes"])

    async def get_settings(self: "Engine") -> dict[str, Any]:
        return {
            "max_parallel": self.scheduler.max_parallel,
            "default_runtime": self.store.get_setting("default_runtime", "auto"),
            "keep_failed_sandboxes": self.keep_failed_sandboxes,
            "docker_endpoints": self.store.get_setting("docker_endpoints", []),
        }

    async def cancel_queued(self: "Engine", batch_id: str, reason: str) -> None:
        """Cancel the batch's tasks that have not started (its budget is spent)."""
        for task in await self.list_tasks(state="queued", batch_id=batch_id):
            try:
                await self.transition(task.id, expect=[TaskState.QUEUED],
                                      state=TaskState.CANCELLED, error=reason,
                                      finished_at=time.time())
            except IllegalTransition:
                pass  # it started meanwhile: its own budget check stops it
