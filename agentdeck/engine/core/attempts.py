"""Starting attempts: claim a queued task (compare-and-set) and run it, or re-attach to
one a previous engine ran; a task whose runner cannot be made fails with the reason."""
from __future__ import annotations

import asyncio
import logging
import time

from agentdeck.engine.core.runner import AttemptRunner, AttemptServices
from agentdeck.engine.core.runners import Runners
from agentdeck.engine.errors import AgentdeckError, LeaseLost
from agentdeck.engine.logs.sink import SeqCounter
from agentdeck.engine.models import Task, TaskState

log = logging.getLogger(__name__)


class Attempts:
    """Makes runners and hands them to `Runners`.

    Args:
        services: what each runner uses.
        runners: where the running attempts are kept.
    """

    def __init__(self, services: AttemptServices, runners: Runners) -> None:
        self._services = services
        self._runners = runners
        self._seq: dict[str, SeqCounter] = {}

    async def start_task(self, task: Task) -> None:
        """Claim a queued task (compare-and-set) and run it."""
        runtime = self._services.runtimes.settle(task.id, task.runtime)
        task = await self._services.states.transition(
            task.id, expect=[TaskState.QUEUED], state=TaskState.PREPARING,
            started_at=time.time(), runtime=runtime, exit_code=None, error=None,
            question=None)
        await self.run(task)

    async def run(self, task: Task, resume: bool = False) -> None:
        """Run (or re-attach to) a claimed task's attempt; a task whose runner cannot be
        made (its profile is gone, a bug) fails with the reason, and the driver goes on."""
        try:
            runner = await AttemptRunner.create(self._services, task,
                                                await self.seq_counter(task.id), resume=resume)
        except LeaseLost:
            raise
        except Exception as exc:
            await self._fail(task, exc)
            return
        self._runners.launch(runner)

    async def _fail(self, task: Task, exc: Exception) -> None:
        if not isinstance(exc, AgentdeckError):
            log.exception("could not start an attempt of %s", task.id)
        error = str(exc) if isinstance(exc, AgentdeckError) else (
            f"internal error in agentdeck: {exc!r}")
        states = self._services.states
        task = await states.transition(task.id, state=TaskState.FAILED, error=error,
                                       finished_at=time.time())
        await states.record_attempt(task, TaskState.FAILED, error)

    async def seq_counter(self, task_id: str) -> SeqCounter:
        """The counter of the task's log sequence numbers (one across all attempts)."""
        if task_id not in self._seq:
            store = self._services.store
            await store.awrite(lambda conn: None)  # pending entries are committed
            last = await asyncio.to_thread(store.last_seq, task_id)
            self._seq.setdefault(task_id, SeqCounter(last + 1))
        return self._seq[task_id]

    def forget_counters(self) -> None:
        """Another engine may have logged since this one last drove: count afresh."""
        self._seq.clear()
