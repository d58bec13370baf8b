"""Turning what a user submitted into task rows: check all of it, then snapshot.

Every value of every task is checked (`agentdeck.engine.validate`, the agent profile, the runtime)
before any repo is touched, so a bad batch is refused in milliseconds and leaves nothing
behind. Only then is each repo snapshotted, once for all of its tasks; if a repo or the
insert fails after that, `forget` drops the refs already made. `Submitter` does all of it.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from agentdeck.engine import validate
from agentdeck.engine.batch.file import BatchSpec, TaskSpec
from agentdeck.engine.errors import InvalidInput, NotFound, RepoError
from agentdeck.engine.models import AgentProfile, Batch, Task
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import Workspace

#: Told ``(repos done, repos in all, the repo just snapshotted)`` while a batch is queued.
SnapshotProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Draft:
    """A checked task, not yet snapshotted, and where it was written (for messages)."""

    task: Task
    origin: str


@dataclass(frozen=True)
class Rules:
    """What checking a task needs from the engine."""

    profile: Callable[[str], AgentProfile]
    choose_runtime: Callable[[str | None, AgentProfile], str]


class Submitter:
    """Queues tasks: checks them, snapshots their repos, stores and announces them.

    Args:
        rules: what checking a task needs (the profiles, the runtime choice).
        workspace: snapshots the repos.
        store: where the tasks are inserted.
        announce: announces a stored task.
        wake: tells the scheduler there is new work.
    """

    def __init__(self, rules: Rules, workspace: Workspace, store: Store,
                 announce: Callable[[Task], None], wake: Callable[[], None]) -> None:
        self._rules = rules
        self._workspace = workspace
        self._store = store
        self._announce = announce
        self._wake = wake

    async def submit(self, spec: TaskSpec, *, include_uncommitted: bool = False,
                     budget_usd: float | None = None) -> Task:
        """Queue one task; its repo is snapshotted now (see `Engine.submit`)."""
        task = draft(self._rules, spec, include_uncommitted=include_uncommitted,
                     budget_usd=budget_usd)
        return (await self._store_new([task]))[0]

    async def submit_batch(self, spec: BatchSpec,
                           on_snapshot: SnapshotProgress | None = None) -> list[Task]:
        """Queue every task of a batch in one transaction, or none of them.

        Every task is checked before any repo is touched; an error names the task's line
        in its batch file (`TaskSpec.origin`), and nothing is left behind. ``on_snapshot``
        is called (from a worker thread) as the repos are snapshotted.
        """
        if not spec.tasks:
            raise InvalidInput(f"batch {spec.name!r} has no tasks")
        batch = Batch(new_id("b"), validate.text(spec.name, "the batch name"),
                      time.time(), validate.start_time(spec.not_before),
                      validate.budget(spec.budget_usd))
        drafts = [draft(self._rules, replace(t, not_before=t.not_before or spec.not_before),
                        origin=t.origin or f"task {n} of batch {spec.name!r}",
                        batch_id=batch.id)
                  for n, t in enumerate(spec.tasks, start=1)]
        return await self._store_new(drafts, batch, on_snapshot)

    async def submit_group(self, spec: TaskSpec, agents: Sequence[str], attempts: int = 1,
                           *, include_uncommitted: bool = False,
                           budget_usd: float | None = None) -> list[Task]:
        """Queue one prompt as a best-of-N group: ``attempts`` tasks per agent of ``agents``
        (default: ``spec.agent``), sharing a group id, in one transaction or not at all.

        Every attempt is checked first, so an unknown profile refuses the whole group
        before any repo is touched.
        """
        names = list(agents) or [spec.agent or "shell"]
        size = validate.group_size(names, attempts)
        group = new_id("g")
        specs = [replace(spec, agent=name) for name in names for _ in range(attempts)]
        drafts = [draft(self._rules, s, origin=f"attempt {n} of the group",
                        include_uncommitted=include_uncommitted, budget_usd=budget_usd)
                  for n, s in enumerate(specs, start=1)]
        drafts = [replace(d, task=d.task.with_(group_id=group,
                                               title=f"{d.task.title} [{n}/{size}]"))
                  for n, d in enumerate(drafts, start=1)]
        return await self._store_new(drafts)

    async def _store_new(self, drafts: list[Draft], batch: Batch | None = None,
                         on_snapshot: SnapshotProgress | None = None) -> list[Task]:
        """Snapshot the drafts' repos and store the tasks; on failure leave no ref."""
        tasks = await asyncio.to_thread(snapshot, self._workspace, drafts, on_snapshot)
        try:
            await self._store.awrite(wr.insert_tasks(tasks, batch))
        except Exception:  # not on cancellation: the writer may still store them
            await asyncio.to_thread(forget, self._workspace, tasks)
            raise
        for task in tasks:
            self._announce(task)
        self._wake()
        return tasks


def new_id(prefix: str = "") -> str:
    """A fresh task (or, with ``prefix`` "b", batch) id."""
    return prefix + secrets.token_hex(5)


def draft(rules: Rules, spec: TaskSpec, *, origin: str = "", batch_id: str | None = None,
          include_uncommitted: bool = False, budget_usd: float | None = None) -> Draft:
    """Check one task; errors start with ``origin`` (``"jobs.toml line 12"``) if given.

    Raises:
        InvalidInput: a value breaks a rule of `agentdeck.engine.validate` or the runtime is unknown.
        NotFound: no agent profile of that name.
    """
    try:
        return Draft(_checked(rules, spec, batch_id, include_uncommitted, budget_usd), origin)
    except (InvalidInput, NotFound) as exc:
        _fail_at(origin, exc)


def _checked(rules: Rules, spec: TaskSpec, batch_id: str | None, include_uncommitted: bool,
             budget_usd: float | None) -> Task:
    prompt = validate.prompt(spec.prompt)
    profile = rules.profile(spec.agent or "shell")
    timeout = validate.timeout(spec.timeout)
    budget = validate.budget(budget_usd)
    repo = validate.text(str(spec.repo), "the repo path")
    return Task(
        id=new_id(), prompt=prompt, repo=repo, agent=profile.name,
        title=validate.title(spec.title) or _title_of(prompt),
        runtime=rules.choose_runtime(spec.runtime, profile),
        priority=validate.priority(spec.priority),
        not_before=validate.start_time(spec.not_before),
        timeout=timeout if timeout is not None else profile.timeout,
        include_uncommitted=include_uncommitted, batch_id=batch_id,
        budget_usd=budget if budget is not None else profile.budget_usd)


def snapshot(workspace: Workspace, drafts: Sequence[Draft],
             on_snapshot: SnapshotProgress | None = None) -> list[Task]:
    """Snapshot each repo once for all its tasks; the tasks with repo and base filled in.

    Blocking (git): run it in a thread. On failure no ref of these tasks is left.
    ``on_snapshot(done, total, repo)`` is told after each repo's snapshot.

    Raises:
        RepoError: a repo is unusable; the message starts with its first task's origin.
    """
    made: list[Task] = []
    try:
        groups = _by_repo(drafts)
        for done, group in enumerate(groups, start=1):
            first = group[0]
            try:
                root, base = workspace.snapshot_all(
                    [d.task.id for d in group], first.task.repo, first.task.include_uncommitted)
            except RepoError as exc:
                _fail_at(first.origin, exc)
            made += [d.task.with_(repo=str(root), base_commit=base) for d in group]
            if on_snapshot is not None:
                on_snapshot(done, len(groups), str(root))
    except Exception:
        forget(workspace, made)
        raise
    by_id = {task.id: task for task in made}
    return [by_id[d.task.id] for d in drafts]


def forget(workspace: Workspace, tasks: Sequence[Task]) -> None:
    """Drop the base refs of snapshotted tasks that were never stored (blocking)."""
    repos: dict[str, list[str]] = {}
    for task in tasks:
        repos.setdefault(task.repo, []).append(task.id)
    for repo, ids in repos.items():
        workspace.forget_bases(ids, repo)


def _by_repo(drafts: Sequence[Draft]) -> list[list[Draft]]:
    """Drafts grouped by repo path as written, in first-seen order; a task that takes
    uncommitted work gets its own snapshot (its commit is made for it)."""
    groups: dict[tuple[str, str], list[Draft]] = {}
    for d in drafts:
        own = d.task.group_id or d.task.id  # a group's attempts start from one snapshot
        key = (d.task.repo, own if d.task.include_uncommitted else "")
        groups.setdefault(key, []).append(d)
    return list(groups.values())


def _fail_at(origin: str, exc: InvalidInput | NotFound | RepoError) -> NoReturn:
    if not origin:
        raise exc
    raise type(exc)(f"{origin}: {exc}") from None


def _title_of(prompt: str) -> str:
    """A title for a task given none: the prompt's first telling line. For a script that
    is its first comment (``# Fix the typos``), not a ``#!`` line or ``set -e``."""
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    telling = [line for line in lines if not _SCRIPT_NOISE.match(line)]
    first = telling[0].lstrip("# ") if telling else lines[0]
    return first[:80] + ("…" if len(first) > 80 else "")


#: Lines that open a script and say nothing of what it does.
_SCRIPT_NOISE = re.compile(r"#!|set\s+[-+][a-z]+\s*$|#\s*$")
