"""The merge queue: land a set of waiting tasks one at a time, in the order given, with
the repo's tests run on each candidate commit before it reaches the user's branch.

The candidate (what accepting the task on the current head would commit) is checked out
in a temporary worktree of the private git dir and tested there; only a passing one is
accepted. The first failure stops the queue with its output, so the user's branch is
left at the last task that passed.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Sequence

from agentdeck.engine.core.freshen import Freshener
from agentdeck.engine.core.repo_tests import REPO_FILE, SuiteRun, command_from_file, run_test
from agentdeck.engine.core.reviews import Reviews
from agentdeck.engine.errors import ConflictError, InvalidInput, NotFound
from agentdeck.engine.models import AgentProfile, LandReport, LandStep, Task
from agentdeck.engine.workspace import Workspace

Progress = Callable[[LandStep], None]


@dataclass(frozen=True)
class Stop:
    """Why the queue stops at a task, and the failing test run's output."""

    reason: str
    output: str = ""


class LandQueue:
    """Lands tasks in order, testing each first.

    Args:
        workspace: makes candidates and their temporary checkouts.
        freshener: checks the named tasks (it shares the rules of what may move).
        reviews: accepts a task that passed (and marks one that conflicts).
        profile: the agent profile of a task, for its ``test_command``.
    """

    def __init__(self, workspace: Workspace, freshener: Freshener, reviews: Reviews,
                 profile: Callable[[str], AgentProfile]) -> None:
        self._workspace = workspace
        self._freshener = freshener
        self._reviews = reviews
        self._profile = profile

    async def land(self, task_ids: Sequence[str], *, test: str | None = None,
                   progress: Progress | None = None) -> LandReport:
        """Land the tasks in the order given (see the module docstring).

        Args:
            test: The test command (a shell line); ``None``: each task's profile's
                ``test_command``, else ``[test] command`` of ``agentdeck.toml`` at HEAD,
                else none (tasks land untested).
            progress: Called at each step (testing, landed, failed, conflict).

        Raises:
            InvalidInput: a task cannot be landed, tasks of several repos, empty ``test``.
            RepoError: the user's checkout is dirty, detached or on another branch.
        """
        if test is not None and not test.strip():
            raise InvalidInput("the test command is empty: leave --test out to use the "
                               f"profile's or {REPO_FILE}'s")
        tasks = await self._freshener.checked(task_ids)
        if len({t.repo for t in tasks}) > 1:
            raise InvalidInput("land takes tasks of one repository at a time")
        for task in tasks:
            await asyncio.to_thread(self._workspace.check_target, task.repo,
                                    task.base_commit or "")
        from_file = command_from_file(await asyncio.to_thread(
            self._workspace.read_at_head, tasks[0].repo, REPO_FILE))
        say = progress or (lambda step: None)
        landed: list[tuple[str, str]] = []
        last_command = ""
        for index, task in enumerate(tasks):
            command = test or self._profile_command(task) or from_file or ""
            last_command = command or last_command
            outcome = await self._land_one(task, command, index, len(tasks), say)
            if isinstance(outcome, Stop):
                return LandReport(tuple(landed), task.id, outcome.reason, outcome.output,
                                  command)
            landed.append((task.id, outcome))
            say(LandStep(task.id, index, len(tasks), "landed"))
        return LandReport(tuple(landed), test_command=last_command)

    def _profile_command(self, task: Task) -> str | None:
        try:
            return self._profile(task.agent).test_command
        except NotFound:  # the profile was removed since the task ran
            return None

    async def _land_one(self, task: Task, command: str, index: int, total: int,
                        say: Progress) -> "str | Stop":
        """Test and accept one task: its commit, or why the queue stops here."""
        assert task.base_commit and task.result_commit
        try:
            candidate = await asyncio.to_thread(self._workspace.candidate, task.repo,
                                                task.base_commit, task.result_commit)
        except ConflictError as exc:
            await self._reviews.mark_conflict(task.id, exc)
            say(LandStep(task.id, index, total, "conflict"))
            return Stop(f"task {task.id} conflicts with the branch: {exc}")
        if command:
            say(LandStep(task.id, index, total, "testing"))
            run = await self._test(task, candidate, command)
            if not run.passed:
                say(LandStep(task.id, index, total, "failed"))
                return Stop(f"the tests failed on task {task.id} (`{command}` exited with "
                            f"{run.exit_code} after {run.seconds:.1f} s); it was not landed",
                            run.output)
        return (await self._reviews.accept(task.id)).commit

    async def _test(self, task: Task, candidate: str, command: str) -> SuiteRun:
        assert task.base_commit
        folder = await asyncio.to_thread(self._workspace.add_test_copy, task.repo,
                                         task.base_commit, candidate)
        try:
            return await run_test(command, folder)
        finally:
            await asyncio.to_thread(self._workspace.remove_test_copy, task.repo,
                                    task.base_commit, folder)
