"""`Engine`: the one facade the GUI and the CLI talk to.

Every user action is one async method here. State changes are written to SQLite
(compare-and-set) before they are announced on `Engine.bus`. Only the engine that holds
the lease drives the queue (`agentdeck.engine.core.lease`); any other process (a CLI `submit` while the
GUI runs) only inserts rows and files requests, which the driving engine picks up within a
second, and one that asked to drive takes over when the holder stops.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import replace
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Iterable, Sequence

from agentdeck.engine.config import secrets
from agentdeck.engine.core import submission as sub
from agentdeck.engine import validate
from agentdeck.engine.batch.file import BatchSpec, TaskSpec, dump_batch, parse_batch_text
from agentdeck.engine.errors import (AgentdeckError, InvalidInput, LeaseHeld, LeaseLost, NotFound,
                           StoreError)
from agentdeck.engine.events import EventBus, Notice, TaskUpdated
from agentdeck.engine.logs.sink import SeqCounter
from agentdeck.engine.models import (
    AgentProfile, Batch, EntryKind, LogEntry, ReviewState, Task, TaskState,
)
from agentdeck.engine.config.paths import data_dir
from agentdeck.engine.config.profiles import (USER_FILE as PROFILES_FILE, load_profiles,
                                    validate_profiles_text, write_user_profiles)
from agentdeck.engine.config.resources import resource_path
from agentdeck.engine.config.providers import DEFAULTS as PROVIDER_DEFAULTS, Provider, load_providers
from agentdeck.engine.core.controls import Controls
from agentdeck.engine.core.lease import Lease
from agentdeck.engine.core.reviews import Reviews
from agentdeck.engine.core.runner import AttemptRunner
from agentdeck.engine.core.scheduler import Scheduler, default_max_parallel
from agentdeck.engine.runtimes.base import Runtime
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.sample import demo
from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.workspace import RepoInfo, Workspace
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.types import AcceptResult
# Helpers of the front ends: they import the engine through this module only.
from agentdeck.engine.batch.file import parse_batch_file
from agentdeck.engine.runtimes.docker.images import build_image
from agentdeck.engine.timeparse import parse_when

__all__ = [
    "Engine",
    # pure helpers and types a front end uses (no IO):
    "AcceptResult", "BatchSpec", "PROFILES_FILE", "RepoInfo", "TaskSpec", "data_dir",
    "escape_name", "parse_when", "resource_path", "validate", "validate_profiles_text",
    # the command line's: a batch file's tasks, the agent image
    "build_image", "parse_batch_file",
]

log = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0
CLOSE_TIMEOUT = 10.0


class Engine(Controls, Reviews):
    """The agentdeck engine. Create with `await Engine.open(...)`, end with `close()`."""

    def __init__(self, home: Path, store: st.Store, config: "_Config", *,
                 max_parallel: int | None, default_runtime: str | None) -> None:
        self.home = home
        self.store = store
        self.bus = EventBus()
        #: Recent notices, so a front end that subscribes late (after open) can show them.
        self.notices: deque[Notice] = deque(maxlen=50)
        self.bus.subscribe(lambda e: self.notices.append(e) if isinstance(e, Notice) else None)
        self.workspace = Workspace(home)
        self.owner = uuid.uuid4().hex
        self.lease = Lease(store, self.owner, self.bus, on_gained=self._start_driving,
                           on_lost=self._stop_driving)
        self.keep_failed_sandboxes = bool(store.get_setting("keep_failed_sandboxes", False))
        self._profiles = config[0]
        self._providers = self._use_providers(config[1])  # the scheduler asks
        parallel = max_parallel or store.get_setting("max_parallel") or default_max_parallel()
        self.scheduler = Scheduler(self, int(parallel))
        self.runtimes = RuntimeRegistry(home, self.bus, default_runtime
                                        or store.get_setting("default_runtime", "auto"),
                                        self.scheduler.pause_provider,
                                        store.get_setting("docker_endpoints", []),
                                        self._on_egress)
        self._runners: dict[str, AttemptRunner] = {}
        self._tasks: set[asyncio.Task] = set()
        self._driving: set[asyncio.Task] = set()  # what stops when the lease is lost
        self._seq: dict[str, SeqCounter] = {}
        self._watch_since = time.time()
        self._announced: dict[str, float] = {}  # task id -> when we last announced it
        loop = asyncio.get_running_loop()
        store.on_problem = lambda problem: loop.call_soon_threadsafe(self._on_store, problem)

    # ---- lifecycle ----------------------------------------------------------------------
    @classmethod
    async def open(cls, home: Path | str | None = None, *, max_parallel: int | None = None,
                   drive_queue: bool = True, require_lease: bool = False,
                   default_runtime: str | None = None) -> "Engine":
        """Open the data dir; with ``drive_queue`` take the lease (now, or once its holder
        stops), recover and start working."""
        home = Path(home).resolve() if home else data_dir()
        home.mkdir(parents=True, exist_ok=True)
        config = await asyncio.to_thread(_read_config, home)  # TOML files: off the loop
        store = await asyncio.to_thread(st.Store, st.db_path(home))
        engine = cls(home, store, config, max_parallel=max_parallel,
                     default_runtime=default_runtime)
        try:
            if drive_queue and not await engine.lease.take() and require_lease:
                raise LeaseHeld("another agentdeck process is already working the queue "
                                "(the GUI or `agentdeck run`); tasks you submit go to it")
            if drive_queue:
                engine.spawn(engine.lease.keep())
            engine.spawn(engine._watch())
        except BaseException:
            await engine.close()
            raise
        return engine

    @property
    def drives(self) -> bool:
        """Whether this engine drives the queue now (holds the lease)."""
        return self.lease.epoch is not None

    async def close(self) -> None:
        """Stop working. Running sandboxes keep running; the next engine re-attaches."""
        await self._cancel(self._tasks)
        await self.runtimes.close()  # no more output is taken in before the lease goes
        await self.lease.release()
        await asyncio.to_thread(self.store.close)

    def _on_store(self, problem: StoreError | None) -> None:
        """The store cannot write (disk full...: its log lines wait) or can again."""
        self.bus.publish(Notice("error", str(problem)) if problem else
                         Notice("info", f"the database {self.store.path} can be written "
                                        "again: what waited is saved"))

    async def _cancel(self, tasks: set[asyncio.Task]) -> None:
        for task in list(tasks):
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(set(tasks), timeout=CLOSE_TIMEOUT)
            for task in stuck:
                log.error("engine task did not stop: %r", task)

    def spawn(self, coro: Awaitable[Any], *, driving: bool = False) -> asyncio.Task:
        """Start a background task and keep a strong reference until it ends;
        ``driving`` work stops when the lease is lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if driving:
            self._driving.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._driving.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if isinstance(task.exception(), LeaseLost):
            log.info("stopped: %s", task.exception())
        else:
            log.error("engine task failed", exc_info=task.exception())

    @property
    def epoch(self) -> int | None:
        """The lease epoch this engine drives under (None: it does not drive)."""
        return self.lease.epoch

    async def fenced_write(self, op: Any, epoch: int | None = None) -> Any:
        """A write of the driving engine: refused (`LeaseLost`) when the lease has been
        taken since ``epoch`` (default: the current epoch; none when not driving)."""
        try:
            return await self.store.awrite(
                wr.fenced(op, epoch if epoch is not None else self.epoch))
        except LeaseLost:
            self.lease.lost()
            raise

    async def _start_driving(self) -> None:
        self._seq.clear()  # another engine may have logged since this one last drove
        await self.runtimes.resolve_default()
        await self.scheduler.restore_pauses()
        await self._recover()
        self.spawn(self.scheduler.run(), driving=True)

    async def _stop_driving(self) -> None:
        """Stop the scheduler and the runners; their agents keep running for the new
        holder to re-attach to (closing the runtimes stops taking in their output)."""
        await self._cancel(self._driving)
        await self.runtimes.close()

    async def _recover(self) -> None:
        """Re-attach to sandboxes of a previous engine, also those it was launching (the
        runner requeues a preparing task whose agent never started)."""
        active = await asyncio.to_thread(
            self.store.list_tasks, state=["preparing", "running"], order="created_at")
        for task in active:
            if task.state == TaskState.RUNNING and not task.sandbox_ref:
                await self.transition(task.id, state=TaskState.QUEUED, sandbox_ref=None)
                continue
            await self._run_attempt(task, resume=True)
        if active:
            self.bus.publish(Notice("info", f"resumed {len(active)} task(s) after a restart"))
        self.spawn(self._remove_orphans())

    async def _remove_orphans(self) -> None:
        known = {t.id for t in await asyncio.to_thread(self.store.list_tasks)}
        try:
            removed = await self.runtimes.remove_docker_orphans(known)
        except AgentdeckError as exc:
            log.warning("could not look for orphan containers: %s", exc)
            return
        if removed:
            self.bus.publish(Notice("info", f"removed {len(removed)} orphan container(s): "
                                            f"{', '.join(removed)}"))

    async def _watch(self) -> None:
        """Announce rows changed by other processes (a CLI accept, a CLI submit...)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            since, self._watch_since = self._watch_since, time.time() - 0.001
            for task, updated_at in await asyncio.to_thread(self.store.changed_since, since):
                if updated_at > self._announced.get(task.id, 0.0):  # not one of ours
                    self.bus.publish(TaskUpdated(task))

    # ---- queries ------------------------------------------------------------------------
    def profile(self, name: str) -> AgentProfile:
        return self._profiles[validate.name_in(name, self._profiles, "agent profile")]

    async def profiles(self) -> dict[str, AgentProfile]:
        return dict(self._profiles)

    def _use_providers(self, loaded: tuple[dict[str, Provider], str | None]) -> dict[str, Provider]:
        providers, problem = loaded
        if problem:
            self.bus.publish(Notice("error", problem))
        return providers

    async def reload_profiles(self) -> None:
        profiles, providers = await asyncio.to_thread(_read_config, self.home)
        self._profiles, self._providers = profiles, self._use_providers(providers)

    async def get_task(self, task_id: str) -> Task:
        return await asyncio.to_thread(
            lambda: self.store.get_task(self.resolve_id(task_id)))

    def resolve_id(self, task_id: str) -> str:
        """Accept a unique prefix of a task id, like git does for commits (reads SQLite:
        call it in a thread)."""
        ids = self.store.find_task_ids(task_id.strip())
        if task_id in ids:
            return task_id
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise NotFound(f"no task with id {task_id!r}")
        raise InvalidInput(f"task id prefix {task_id!r} is ambiguous: {', '.join(ids)}, ...")

    async def list_tasks(self, **filters: Any) -> list[Task]:
        return await asyncio.to_thread(self.store.list_tasks, **filters)

    async def get_logs(self, task_id: str, **kw: Any) -> list[LogEntry]:
        """Stored entries (after_seq, before_seq, limit, newest), pending ones included."""
        await self.store.awrite(lambda conn: None)  # commit what the batch writer holds
        return await asyncio.to_thread(self.store.get_logs, task_id, **kw)

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self.store.counts)

    async def list_batches(self) -> list[Batch]:
        return await asyncio.to_thread(self.store.list_batches)

    async def batch_progress(self, batch_id: str) -> dict[str, int]:
        return await asyncio.to_thread(self.store.batch_progress, batch_id)

    async def attempts(self, task_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.store.attempts, task_id)

    async def inspect_repo(self, path: str | Path) -> RepoInfo:
        return await asyncio.to_thread(self.workspace.inspect, path)

    def active_count(self) -> int:
        return len(self._runners)

    def provider_load(self) -> dict[str, int]:
        load: dict[str, int] = {}
        for runner in self._runners.values():
            if runner.profile.provider:
                load[runner.profile.provider] = load.get(runner.profile.provider, 0) + 1
        return load

    def provider_cap(self, agent: str) -> tuple[str | None, int | None]:
        """The provider an agent's profile uses and that provider's own parallel cap."""
        profile = self._profiles.get(agent)
        if profile is None or not profile.provider:
            return None, None
        provider = self._providers.get(profile.provider)
        # An unknown provider has no cap here: the runner reports it when the task starts.
        return profile.provider, provider.max_parallel if provider else None

    def _on_egress(self, task_id: str, target: str, allowed: bool,
                   why: str | None = None) -> None:
        """The egress proxy's report: refused connections go into the task's log."""
        if allowed:
            return
        text = f"egress refused: {why}" if why else (
            f"egress refused: {target} is not on the profile's allowlist")
        runner = self._runners.get(task_id)
        if runner is not None:
            runner.tasklog.system(text, EntryKind.ERROR)
        else:
            self.bus.publish(Notice("warning", text, task_id or None))

    def runtime(self, name: str) -> Runtime:
        return self.runtimes.get(name)

    async def seq_counter(self, task_id: str) -> SeqCounter:
        """The counter of the task's log sequence numbers (one across all attempts)."""
        if task_id not in self._seq:
            await self.store.awrite(lambda conn: None)  # pending entries are committed
            last = await asyncio.to_thread(self.store.last_seq, task_id)
            self._seq.setdefault(task_id, SeqCounter(last + 1))
        return self._seq[task_id]

    # ---- submitting ---------------------------------------------------------------------
    async def submit(self, repo: str | Path, prompt: str, *, agent: str = "shell",
                     runtime: str | None = None, priority: int = 0,
                     not_before: float | None = None, title: str | None = None,
                     timeout: float | None = None, include_uncommitted: bool = False,
                     budget_usd: float | None = None) -> Task:
        """Queue one task. The repo is snapshotted now: later edits do not leak in.

        Raises:
            InvalidInput, NotFound, RepoError: before anything is stored (see
                `agentdeck.engine.validate` for the rules).
        """
        spec = TaskSpec(prompt, str(repo), title or "", agent, runtime, priority, not_before,
                        timeout)
        draft = sub.draft(self._rules, spec, include_uncommitted=include_uncommitted,
                          budget_usd=budget_usd)
        return (await self._store_new([draft]))[0]

    async def submit_batch(self, spec: BatchSpec) -> list[Task]:
        """Queue every task of a batch in one transaction, or none of them.

        Every task is checked before any repo is touched; an error names the task's line
        in its batch file (`TaskSpec.origin`), and nothing is left behind.
        """
        if not spec.tasks:
            raise InvalidInput(f"batch {spec.name!r} has no tasks")
        batch = Batch(sub.new_id("b"), validate.text(spec.name, "the batch name"),
                      time.time(), validate.start_time(spec.not_before),
                      validate.budget(spec.budget_usd))
        drafts = [sub.draft(self._rules, replace(t, not_before=t.not_before or spec.not_before),
                            origin=t.origin or f"task {n} of batch {spec.name!r}",
                            batch_id=batch.id)
                  for n, t in enumerate(spec.tasks, start=1)]
        return await self._store_new(drafts, batch)

    @property
    def _rules(self) -> sub.Rules:
        return sub.Rules(self.profile, self.runtimes.choose)

    async def _store_new(self, drafts: list[sub.Draft], batch: Batch | None = None) -> list[Task]:
        """Snapshot the drafts' repos and store the tasks; on failure leave no ref."""
        tasks = await asyncio.to_thread(sub.snapshot, self.workspace, drafts)
        try:
            await self.store.awrite(wr.insert_tasks(tasks, batch))
        except Exception:  # not on cancellation: the writer may still store them
            await asyncio.to_thread(sub.forget, self.workspace, tasks)
            raise
        self._announce_new(tasks)
        return tasks

    def _announce_new(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self._announce(task)
        self.scheduler.wake()

    # ---- running ------------------------------------------------------------------------
    async def transition(self, task_id: str, *, expect: Sequence[TaskState] | None = None,
                         expect_review: Sequence[ReviewState] | None = None,
                         epoch: int | None = None, **fields: Any) -> Task:
        """Store a change (checked by the state machine, fenced like `fenced_write`),
        then announce it."""
        task = await self.fenced_write(
            wr.update_task(task_id, expect=expect, expect_review=expect_review, **fields),
            epoch)
        self._announce(task)
        return task

    def _announce(self, task: Task) -> None:
        self._announced[task.id] = time.time()
        self.bus.publish(TaskUpdated(task))

    async def record_attempt(self, task: Task, state: TaskState, error: str | None,
                             epoch: int | None = None) -> None:
        await self.fenced_write(wr.record_attempt(
            task.id, task.attempt, prompt=task.follow_up or task.prompt, state=state.value,
            exit_code=task.exit_code, error=error, started_at=task.started_at,
            finished_at=task.finished_at, result_commit=task.result_commit), epoch)

    async def start_task(self, task: Task) -> None:
        """Claim a queued task (compare-and-set) and run it."""
        runtime = self.runtimes.settle(task.id, task.runtime)
        task = await self.transition(task.id, expect=[TaskState.QUEUED],
                                     state=TaskState.PREPARING, started_at=time.time(),
                                     runtime=runtime, exit_code=None, error=None,
                                     question=None)
        await self._run_attempt(task)

    async def _run_attempt(self, task: Task, resume: bool = False) -> None:
        """Run (or re-attach to) a claimed task's attempt; a task whose runner cannot be
        made (its profile is gone, a bug) fails with the reason, and the driver goes on."""
        try:
            runner = await AttemptRunner.create(self, task, await self.seq_counter(task.id),
                                                resume=resume)
        except LeaseLost:
            raise
        except Exception as exc:
            if not isinstance(exc, AgentdeckError):
                log.exception("could not start an attempt of %s", task.id)
            error = str(exc) if isinstance(exc, AgentdeckError) else (
                f"internal error in agentdeck: {exc!r}")
            task = await self.transition(task.id, state=TaskState.FAILED, error=error,
                                         finished_at=time.time())
            await self.record_attempt(task, TaskState.FAILED, error)
            return
        self._launch(runner)

    def _launch(self, runner: AttemptRunner) -> None:
        self._runners[runner.task.id] = runner

        async def run() -> None:
            try:
                await runner.run()
            finally:  # a follow-up's runner may have taken the task's place already
                if self._runners.get(runner.task.id) is runner:
                    del self._runners[runner.task.id]
                self.scheduler.wake()
        self.spawn(run(), driving=True)

    # ---- desktop/CLI services: settings files, API keys, batch text, working copies ----
    async def read_profiles_text(self) -> str:
        """The text of the user's ``agents.toml`` ("" when there is none)."""
        path = self.home / PROFILES_FILE
        return await asyncio.to_thread(
            lambda: path.read_text(encoding="utf-8") if path.exists() else "")

    async def save_profiles_text(self, text: str) -> dict[str, AgentProfile]:
        """Replace the user's ``agents.toml`` with ``text`` and use its profiles from now.

        Raises:
            InvalidInput: The text is invalid (line and field named); the file is kept.
        """
        await asyncio.to_thread(write_user_profiles, self.home, text)
        await self.reload_profiles()
        return dict(self._profiles)

    async def stored_secrets(self, names: Iterable[str]) -> dict[str, bool]:
        """Whether the keyring holds each secret name (`agentdeck.engine.config.secrets`).

        Raises:
            KeyringUnavailable: No keyring backend works here.
        """
        return await asyncio.to_thread(secrets.stored_secrets, list(names))

    async def store_secrets(self, values: dict[str, str]) -> None:
        """Keep API keys in the keyring under their variable names.

        Raises:
            KeyringUnavailable: The keyring refused them.
        """
        await asyncio.to_thread(secrets.store_secrets, dict(values))

    async def delete_secret(self, name: str) -> None:
        """Forget the keyring entry of a secret name.

        Raises:
            KeyringUnavailable: No keyring backend works here.
        """
        await asyncio.to_thread(secrets.delete_secret, name)

    async def find_secret(self, name: str) -> str | None:
        """A secret's value by the one precedence (`agentdeck.engine.config.secrets.find_secret`)."""
        return await asyncio.to_thread(secrets.find_secret, name)

    async def parse_batch(self, text: str, *, source: str, base_dir: Path | str,
                          default_repo: Path | str | None = None,
                          at_override: str | float | None = None) -> BatchSpec:
        """Check a batch file's text against the current profiles (nothing is queued).

        Raises:
            BatchError: The text is malformed; the message names the line.
        """
        return await asyncio.to_thread(
            parse_batch_text, text, source=source, base_dir=base_dir,
            default_repo=default_repo, at_override=at_override, agents=set(self._profiles))

    async def read_batch_file(self, path: Path | str) -> str:
        """The text of a batch file.

        Raises:
            InvalidInput: It cannot be read (names the file and why).
        """
        try:
            return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the batch file {path}: {exc}") from exc

    async def export_batch(self, spec: BatchSpec, path: Path | str) -> None:
        """Write ``spec`` as a batch file.

        Raises:
            InvalidInput: It cannot be written (names the file and why).
        """
        try:
            await asyncio.to_thread(Path(path).write_text, dump_batch(spec), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write the batch file {path}: {exc}") from exc

    async def working_copy_path(self, task_id: str, relative: str = "") -> Path:
        """A file of a task's working copy ("": the folder), for a front end to open.

        Raises:
            NotFound: The working copy is gone (accepted or rejected), or ``relative``
                is not a file in it (paths leaving it are refused).
        """
        task = await self.get_task(task_id)
        return await asyncio.to_thread(_in_working_copy, task, relative)

    async def seed_demo(self) -> list[Task]:
        """Queue the demo batch on the local runtime, once: only into an empty data dir."""
        return await demo.seed_demo(self)

    async def seed_self_test(self, repo_dir: Path | str) -> Task:
        """Queue one quick demo task on a new copy of the sample repo at ``repo_dir``."""
        return await demo.seed_self_test(self, Path(repo_dir))


_Config = tuple[dict[str, AgentProfile], tuple[dict[str, Provider], str | None]]


def _read_config(home: Path) -> _Config:
    """The profiles and the providers (reads TOML files: call it in a thread)."""
    return load_profiles(home), _read_providers(home)


def _read_providers(home: Path) -> tuple[dict[str, Provider], str | None]:
    """The providers and what is wrong with providers.toml, if anything: a broken file is
    reported, not fatal (tasks using it fail with the file's error when they start)."""
    try:
        return load_providers(home), None
    except AgentdeckError as exc:
        return dict(PROVIDER_DEFAULTS), str(exc)


def _in_working_copy(task: Task, relative: str) -> Path:
    workdir = Path(task.workdir) if task.workdir else None
    if workdir is None or not workdir.is_dir():
        raise NotFound(f"the working copy of task {task.id} is gone (accepted or rejected)")
    target = (workdir / relative).resolve() if relative else workdir
    if not target.is_relative_to(workdir.resolve()) or not target.exists():
        raise NotFound(f"{relative} is not in the working copy of task {task.id}")
    return target
