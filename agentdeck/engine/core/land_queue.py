"""The merge queue: land a set of waiting tasks one at a time, in the order given, with
the repo's tests run on each candidate commit before it reaches the user's branch.

Each candidate is what accepting the task would commit on top of the one before it (the
first on the user's HEAD). It is checked out in a temporary worktree of the private git
dir and tested there; only a passing one is accepted, so the first failure stops the
queue with the user's branch at the last task that passed.

The work around the tests is pipelined: the tests run back to back on the chain of
candidates (task N+1's checkout is made while task N's tests run), and the tasks that
passed are accepted in order alongside, so the queue costs little more than the tests
themselves. A task is accepted only if the branch is still where the queue left it (a
commit of the user's in between stops it: the candidates were built on the old head).
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from agentdeck.engine.core.freshen import Freshener
from agentdeck.engine.core.repo_tests import (REPO_FILE, profile_command, repo_command,
                                              run_test, runs_confined)
from agentdeck.engine.core.reviews import Reviews
from agentdeck.engine.errors import AgentdeckError, ConflictError, InvalidInput
from agentdeck.engine.models import AgentProfile, LandReport, LandStep, Task
from agentdeck.engine.workspace import Workspace

Progress = Callable[[LandStep], None]


@dataclass(frozen=True)
class Candidate:
    """A task's candidate commit and its test checkout (``None``: no tests to run)."""

    task: Task
    commit: str
    folder: Path | None


@dataclass(frozen=True)
class Stop:
    """Why the queue stops at a task, and the failing test run's output."""

    task: Task
    stage: str
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
        from_file = await repo_command(self._workspace, tasks[0].repo)
        commands = [test or profile_command(self._profile, t.agent) or from_file or ""
                    for t in tasks]
        confine = [runs_confined(self._profile, t.agent) for t in tasks]
        run = _Run(self, tasks, commands, confine, progress or (lambda step: None))
        return await run.go()



class _Run:
    """One `LandQueue.land`: the pipeline of prepare, test and accept."""

    def __init__(self, queue: LandQueue, tasks: list[Task], commands: list[str],
                 confine: list[bool], say: Progress) -> None:
        self._ws = queue._workspace
        self._reviews = queue._reviews
        self._tasks, self._commands, self._say = tasks, commands, say
        self._confine = confine
        self._landed: list[tuple[str, str]] = []
        self._copies: list[tuple[Task, Path]] = []  # test checkouts still to remove
        self._last: Task | None = None  # the last task landed
        self._cleanups: list[asyncio.Future[None]] = []
        self._preparing: list[asyncio.Future[Candidate | Stop]] = []

    def _step(self, task: Task, stage: str) -> None:
        self._say(LandStep(task.id, self._tasks.index(task), len(self._tasks), stage))

    async def go(self) -> LandReport:
        repo = self._tasks[0].repo
        head = await asyncio.to_thread(self._ws.head, repo)
        background: list[asyncio.Future[Any]] = []
        try:
            report = await self._pipeline(head, background)
            await asyncio.gather(*self._cleanups)
            if self._last is not None:  # the other waiting tasks, against the final head
                await self._reviews.recheck(self._last)
            return report
        finally:
            # A checkout being made is let finish (its thread would anyway), then removed.
            await asyncio.gather(*self._preparing, return_exceptions=True)
            for future in background:
                future.cancel()
                with contextlib.suppress(BaseException):
                    await future
            await asyncio.gather(*self._cleanups, return_exceptions=True)
            for task, folder in self._copies:
                await asyncio.to_thread(self._ws.remove_test_copy, task.repo,
                                        task.base_commit or "", folder)

    def _clean_up(self, work: Awaitable[None]) -> None:
        """Run cleanup (a test checkout, a landed copy) alongside; `go` awaits it."""
        self._cleanups.append(asyncio.ensure_future(work))

    async def _remove_copy(self, candidate: Candidate) -> None:
        assert candidate.folder is not None
        self._copies.remove((candidate.task, candidate.folder))
        await asyncio.to_thread(self._ws.remove_test_copy, candidate.task.repo,
                                candidate.task.base_commit or "", candidate.folder)

    async def _pipeline(self, head: str, background: list[asyncio.Future[Any]]) -> LandReport:
        """Tests run one after the other on the chain of candidates; the accepts follow
        in their own sequence; the first stop of either ends the queue."""
        passed: asyncio.Queue[Task | None] = asyncio.Queue()
        acceptor = _start(self._accept_all(passed, head), background)
        prepared = _start(self._prepare(0, head), self._preparing)
        stop, last_command = None, ""
        for index, task in enumerate(self._tasks):
            outcome = await prepared
            if isinstance(outcome, Candidate) and index + 1 < len(self._tasks):
                prepared = _start(self._prepare(index + 1, outcome.commit), self._preparing)
            if isinstance(outcome, Candidate) and outcome.folder is not None:
                last_command = self._commands[index]
                self._step(task, "testing")
                outcome = await self._test(outcome, self._commands[index])
            if acceptor.done():  # an earlier accept stopped the queue
                break
            if isinstance(outcome, Stop):
                stop = outcome
                break
            passed.put_nowait(task)
        passed.put_nowait(None)
        stop = await acceptor or stop  # a stop while accepting came first in the order
        if stop is not None:
            self._step(stop.task, stop.stage)
            return LandReport(tuple(self._landed), stop.task.id, stop.reason, stop.output,
                              last_command)
        return LandReport(tuple(self._landed), test_command=last_command)

    async def _accept_all(self, passed: asyncio.Queue[Task | None], head: str) -> Stop | None:
        """Accept each task that passed, in order, until the end (``None``) or a stop."""
        expected = head
        while (task := await passed.get()) is not None:
            landed = await self._accept(task, expected)
            if isinstance(landed, Stop):
                return landed
            expected = landed
        return None

    async def _prepare(self, index: int, onto: str) -> Candidate | Stop:
        """The candidate of task ``index`` on ``onto``, checked out when it has tests."""
        task = self._tasks[index]
        assert task.base_commit and task.result_commit
        try:
            commit = await asyncio.to_thread(self._ws.candidate, task.repo, task.base_commit,
                                             task.result_commit, onto)
        except ConflictError as exc:
            await self._reviews.mark_conflict(task.id, exc)
            return Stop(task, "conflict", f"task {task.id} conflicts with the branch: {exc}")
        folder = None
        if self._commands[index]:
            folder = await asyncio.to_thread(self._ws.add_test_copy, task.repo,
                                             task.base_commit, commit)
            self._copies.append((task, folder))
        return Candidate(task, commit, folder)

    async def _test(self, candidate: Candidate, command: str) -> Candidate | Stop:
        assert candidate.folder is not None
        try:
            run = await run_test(command, candidate.folder,
                                 confine=self._confine[self._tasks.index(candidate.task)])
        finally:
            self._clean_up(self._remove_copy(candidate))
        if run.passed:
            return candidate
        task = candidate.task
        return Stop(task, "failed",
                    f"the tests failed on task {task.id} (`{command}` exited with "
                    f"{run.exit_code} after {run.seconds:.1f} s); it was not landed",
                    run.output)

    async def _accept(self, task: Task, expected: str) -> str | Stop:
        """Accept ``task`` if the branch is still at ``expected``; its new commit."""
        if await asyncio.to_thread(self._ws.head, task.repo) != expected:
            return Stop(task, "failed", "the branch moved while the queue ran (a commit "
                                        f"made meanwhile): task {task.id} was not landed")
        try:
            commit = (await self._reviews.accept(task.id, settle=False)).commit
        except AgentdeckError as exc:
            return Stop(task, "failed", f"accepting task {task.id} failed: {exc}")
        self._clean_up(self._reviews.discard_copy(task.id))
        self._landed.append((task.id, commit))
        self._last = task
        self._step(task, "landed")
        return commit


def _start(work: Awaitable[Any], kept: list[asyncio.Future[Any]]) -> asyncio.Future[Any]:
    """Run ``work`` alongside; kept in ``kept`` so that the end of the run deals with it."""
    future = asyncio.ensure_future(work)
    kept.append(future)
    return future
