"""The repo's tests on each finished change, so that best-of-N attempts and a batch
report can be compared by their test result before anyone reviews them.

When the engine that drives the queue sees a task end with a change waiting for review,
and the repo has a test command (the task's profile's ``test_command``, else ``[test]
command`` of ``agentdeck.toml`` at the user's HEAD — the merge queue's rule, see
`repo_tests`), it runs the command on the task's result commit in a temporary checkout,
confined like an agent (`repo_tests.run_test`), in the background, one task at a time.
The task's ``test_result`` is ``running``, then ``passed`` or ``failed`` (or ``error``
when the tests could not run), with a one-line ``test_summary``. No test command: the
fields stay empty.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from agentdeck.engine.core.repo_tests import profile_command, repo_command, run_test, runs_confined
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.events import Event, TaskUpdated
from agentdeck.engine.models import AgentProfile, ReviewState, Task, TaskState
from agentdeck.engine.workspace import Workspace

log = logging.getLogger(__name__)


class TaskTests:
    """Runs the repo's tests on changes as they arrive (see the module docstring).

    Args:
        workspace: makes and removes the temporary checkouts; reads agentdeck.toml.
        states: stores the result (and announces it).
        profile: the agent profile of a task (for its ``test_command``).
        drives: whether this engine drives the queue (only that one runs tests).
        spawn: runs the background work (it ends with the engine).
    """

    def __init__(self, workspace: Workspace, states: TaskStates,
                 profile: Callable[[str], AgentProfile], drives: Callable[[], bool],
                 spawn: Callable[..., object]) -> None:
        self._workspace = workspace
        self._states = states
        self._profile = profile
        self._drives = drives
        self._spawn = spawn
        self._seen: set[tuple[str, str]] = set()  # (task, result commit) already taken
        self._one_at_a_time = asyncio.Lock()

    def on_event(self, event: Event) -> None:
        """The bus subscriber: a change that just became reviewable gets tested."""
        if not isinstance(event, TaskUpdated) or not self._drives():
            return
        task = event.task
        key = (task.id, task.result_commit or "")
        if (task.state != TaskState.SUCCEEDED or task.review != ReviewState.PENDING
                or not task.result_commit or task.test_result is not None or key in self._seen):
            return
        self._seen.add(key)
        self._spawn(self._test(task))

    async def _test(self, task: Task) -> None:
        command = await self._command(task)
        if command is None:
            return
        async with self._one_at_a_time:
            await self._states.transition(task.id, test_result="running",
                                          test_summary=f"`{command}` running")
            result, summary = await self._run(task, command)
            await self._states.transition(task.id, test_result=result, test_summary=summary)

    async def _command(self, task: Task) -> str | None:
        own = profile_command(self._profile, task.agent)
        if own:
            return own
        try:
            return await repo_command(self._workspace, task.repo)
        except AgentdeckError as exc:
            log.warning("no tests for task %s: %s", task.id, exc)
            return None

    async def _run(self, task: Task, command: str) -> tuple[str, str]:
        base, commit = task.base_commit or "", task.result_commit or ""
        try:
            folder = await asyncio.to_thread(self._workspace.add_test_copy, task.repo, base, commit)
        except AgentdeckError as exc:
            return "error", f"the tests could not run: {exc}"
        try:
            run = await run_test(command, folder, confine=runs_confined(self._profile, task.agent))
        except AgentdeckError as exc:
            return "error", f"the tests could not run: {exc}"
        finally:
            await asyncio.to_thread(self._workspace.remove_test_copy, task.repo, base, folder)
        last = next((line for line in reversed(run.output.splitlines()) if line.strip()), "")
        words = "passed" if run.passed else f"failed (exit {run.exit_code})"
        tail = f": {last[:200]}" if last and not run.passed else ""
        return ("passed" if run.passed else "failed",
                f"`{command}` {words} in {run.seconds:.1f} s{tail}")
