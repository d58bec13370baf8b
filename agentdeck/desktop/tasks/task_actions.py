"""Bulk task commands (cancel, retry, collect, accept, reject, reopen, approve, freshen) on a set of
task ids.

Each command is one engine call per task; failures of single tasks are collected and
reported together so a bulk action over 30 tasks gives one readable message.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from agentdeck.desktop.context import AppContext
from agentdeck.engine.errors import AgentdeckError, InvalidInput
from agentdeck.engine.models import Task
from agentdeck.engine.api import AcceptResult

Report = Callable[[str], None]
Done = Callable[[list[str]], None]


class TaskActions:
    """Runs bulk commands through the engine and reports the outcome in words."""

    def __init__(self, ctx: AppContext, report: Report) -> None:
        self._ctx = ctx
        self._report = report

    def cancel(self, ids: Sequence[str]) -> None:
        """Cancel queued / running tasks."""
        self._run("Cancelled", ids, self._ctx.engine.cancel)

    def retry(self, ids: Sequence[str]) -> None:
        """Queue finished tasks again as new attempts."""
        self._run("Queued again", ids, self._ctx.engine.retry)

    def collect(self, ids: Sequence[str], max_files: int, max_bytes: int) -> None:
        """Copy back the changes that were over a limit, from their kept containers."""
        self._run("Collected", ids, lambda task_id: self._ctx.engine.collect(
            task_id, max_files=max_files, max_bytes=max_bytes))

    def reject(self, ids: Sequence[str], on_done: Done | None = None) -> None:
        """Refuse the changes of these tasks; ``on_done`` gets the ids rejected."""
        self._run("Rejected", ids, self._ctx.engine.reject, on_done)

    def reopen(self, ids: Sequence[str]) -> None:
        """Undo the rejection of these tasks: their changes wait for review again."""
        self._run("Reopened", ids, self._ctx.engine.reopen)

    def accept(self, ids: Sequence[str]) -> None:
        """Commit the whole change of each task to its repository."""
        self._run("Accepted", ids, lambda task_id: self._ctx.engine.accept(task_id))

    def approve(self, tasks: Sequence[Task]) -> None:
        """Approve the tasks for landing; when all already are, take the mark away."""
        again = bool(tasks) and all(task.approved_at for task in tasks)
        self._run("Not approved" if again else "Approved", [t.id for t in tasks],
                  lambda task_id: self._ctx.engine.approve(task_id, not again))

    def freshen(self, ids: Sequence[str], hand_back: bool = False) -> None:
        """Rebase the tasks onto their branch's head (conflicts: marked or handed back)."""
        async def one(task_id: str) -> object:
            [done] = await self._ctx.engine.freshen([task_id], hand_back=hand_back)
            if done.outcome == "conflict":
                raise InvalidInput(f"task {done.task} conflicts in "
                                   f"{', '.join(done.conflicts)}: use \"Freshen, hand "
                                   "conflicts back\" to give it to its agent")
            return done
        self._run("Freshened", ids, one)

    def _run(self, verb: str, ids: Sequence[str],
             call: Callable[[str], Awaitable[object]], on_done: Done | None = None) -> None:
        if not ids:
            self._report("Select one or more tasks first")
            return
        self._ctx.runner.spawn(self._each(verb, list(ids), call, on_done))

    async def _each(self, verb: str, ids: list[str],
                    call: Callable[[str], Awaitable[object]], on_done: Done | None) -> None:
        problems: list[str] = []
        done_ids: list[str] = []
        notes: dict[str, None] = {}  # what accept says about hooks, once, in order
        for task_id in ids:
            try:
                result = await call(task_id)
            except AgentdeckError as exc:
                problems.append(str(exc))
                continue
            done_ids.append(task_id)
            if isinstance(result, AcceptResult):
                notes.update(dict.fromkeys(result.notes))
        done = len(ids) - len(problems)
        summary = f"{verb} {done} task{'s' if done != 1 else ''}" if done else ""
        summary = "; ".join([summary, *notes]) if summary else summary
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            summary = "; ".join(filter(None, [summary, problems[0] + more]))
        self._report(summary)
        if on_done is not None and done_ids:
            on_done(done_ids)
