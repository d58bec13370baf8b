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
import sys
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

from agentdeck.engine.config import secrets
from agentdeck.engine import validate
from agentdeck.engine.batch.file import BatchSpec, TaskSpec
from agentdeck.engine.errors import LeaseHeld, StoreError
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.logs.sink import SeqCounter
from agentdeck.engine.models import (AgentProfile, Batch, Comment, Freshening, LandReport,
                                     LogEntry, Overlap, Report, StorageReport, Task,
                                     TaskSummary)
from agentdeck.engine.config.paths import data_dir
from agentdeck.engine.config.profiles import USER_FILE as PROFILES_FILE, validate_profiles_text
from agentdeck.engine.config.resources import resource_path, user_guide
from agentdeck.engine.core import batch_files
from agentdeck.engine.core.after_accept import AfterAccept
from agentdeck.engine.core.approvals import Approvals
from agentdeck.engine.core.attempts import Attempts
from agentdeck.engine.core.freshen import Freshener
from agentdeck.engine.core.land_queue import LandQueue, Progress
from agentdeck.engine.core.task_tests import TaskTests
from agentdeck.engine.core.overlaps import OverlapRadar
from agentdeck.engine.core.comments import Comments
from agentdeck.engine.core.background import Background
from agentdeck.engine.core.controls import Controls
from agentdeck.engine.core.driver import Driver
from agentdeck.engine.core.lease import Lease
from agentdeck.engine.core.pauses import ProviderPauses
from agentdeck.engine.core.profile_source import Config, ProfileSource, read_config
from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.recollect import Recollect
from agentdeck.engine.core.reports import LAST_NIGHT, Reports
from agentdeck.engine.core.reviews import Reviews
from agentdeck.engine.core.runner import AttemptServices
from agentdeck.engine.core.runners import Runners
from agentdeck.engine.core.scheduler import Scheduler, default_max_parallel
from agentdeck.engine.core.settings import Settings
from agentdeck.engine.core.storage import Storage
from agentdeck.engine.core.submission import Rules, Submitter
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.core.trees import BaseWarmer
from agentdeck.engine.runtimes.base import Runtime
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.sample import demo
from agentdeck.engine.store import db as st
from agentdeck.engine.workspace import DiffResult, FileHunks, Hunk, RepoInfo, Workspace
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.types import AcceptResult
# Helpers of the front ends: they import the engine through this module only.
from agentdeck.engine.batch.file import parse_batch_file
from agentdeck.engine.runtimes.docker.endpoints import endpoint_slots
from agentdeck.engine.timeparse import parse_when
# Operations: the diagnosis (`agentdeck doctor`) and the log file of both front ends.
from agentdeck.engine.applog import log_file, start_log_file, tail_log
from agentdeck.engine.config.paths import data_dir_path
from agentdeck.engine.doctor.checks import Check, Report, Status

__all__ = [
    "Engine",
    # pure helpers and types a front end uses (no IO):
    "AcceptResult", "BatchSpec", "DiffResult", "FileHunks", "Hunk", "LAST_NIGHT",
    "PROFILES_FILE", "RepoInfo", "TaskSpec", "data_dir",
    "endpoint_slots", "escape_name", "parse_when", "resource_path", "user_guide", "validate",
    "validate_profiles_text",
    # the command line's: a batch file's tasks, the agent image
    "build_image", "parse_batch_file",
    # operations: `agentdeck doctor`, the log file (both front ends)
    "Check", "Report", "Status", "data_dir_path", "diagnose", "log_file", "start_log_file",
    "tail_log",
]

log = logging.getLogger(__name__)

#: How long (s) a thread holding the GIL runs before the event loop may take it back.
#: The log readers and the store writer are Python threads: at Python's default 5 ms the
#: loop's p99 lag was 5.3–7.4 ms with 50 agents at 1 000 lines/s; at 1 ms, 3.9–5.8 ms with
#: the same lines stored in the same time (benchmarks/ingest.py, three runs each).
GIL_SWITCH_INTERVAL = 0.001


# The Docker SDK (and what doctor checks with it) is imported when these are called: at
# import it would cost the desktop's start most of a second it has no use for.
def build_image(offline: bool, *args: Any, **options: Any) -> str:
    """Build the agent image (`agentdeck.engine.runtimes.docker.images.build_image`, whose
    arguments these are)."""
    from agentdeck.engine.runtimes.docker import images
    return images.build_image(offline, *args, **options)


async def diagnose(home: Path | str | None = None, **options: Any) -> Report:
    """Check what agentdeck needs here (`agentdeck.engine.doctor.diagnose.diagnose`)."""
    from agentdeck.engine.doctor.diagnose import diagnose as run
    return await run(home, **options)


class Engine:
    """The agentdeck engine. Create with `await Engine.open(...)`, end with `close()`.

    It only wires the services of `agentdeck.engine.core` (each receives what it uses,
    none receives the engine) and hands each action to one of them.
    """

    def __init__(self, home: Path, store: st.Store, config: Config, *,
                 max_parallel: int | None, default_runtime: str | None) -> None:
        self.home = home
        self.store = store
        self.bus = EventBus()
        #: Recent notices, so a front end that subscribes late (after open) can show them.
        self.notices: deque[Notice] = deque(maxlen=50)
        self.bus.subscribe(lambda e: self.notices.append(e) if isinstance(e, Notice) else None)
        self._background = background = Background()
        self._lease = Lease(store, uuid.uuid4().hex, self.bus, on_gained=self._start_driving,
                            on_lost=self._stop_driving)
        self._states = states = TaskStates(store, self._lease, self.bus)
        self._profiles = profiles = ProfileSource(home, self.bus, config)
        workspace = Workspace(home)
        self._queries = queries = Queries(store, workspace)
        self._reports = Reports(store, queries)
        bell = asyncio.Event()  # rung by whatever may let a queued task start
        pauses = ProviderPauses(store, bell.set)
        self.runners = runners = Runners(background.spawn, bell.set, self.bus)
        self.runtimes = RuntimeRegistry(home, self.bus, default_runtime
                                        or store.get_setting("default_runtime", "auto"),
                                        pauses.pause, store.get_setting("docker_endpoints", []),
                                        runners.on_egress)
        self._controls = controls = Controls(store, states, queries, runners, bell.set)
        self._freshener = freshener = Freshener(workspace, states, queries, controls.follow_up,
                                                  profiles.profile)
        after_accept = AfterAccept(store, workspace, states, freshener,
                                   lambda: self._settings.freshen_after_accept)
        self._reviews = Reviews(store, workspace, states, queries, controls.cancel, runners,
                                after_accept)
        self._radar = OverlapRadar(store, workspace)
        self._approvals = Approvals(store, states, queries)
        self._land_queue = LandQueue(workspace, freshener, self._reviews, profiles.profile)
        tests = TaskTests(workspace, states, profiles.profile, lambda: self.drives,
                          background.spawn)
        self.bus.subscribe(tests.on_event)
        self._warmer = BaseWarmer(workspace, self.runtimes.get, profiles.profile,
                                  background.spawn)
        self._recollect = Recollect(home, workspace, queries, states, self.runtimes,
                                    profiles.profile)
        self._comments = Comments(store, workspace, queries, controls.follow_up,
                                  profiles.profile)
        self._submitter = Submitter(Rules(profiles.profile, self.runtimes.choose), workspace,
                                    store, states.announce, bell.set)
        self._attempts = attempts = Attempts(AttemptServices(
            home, store, self.bus, workspace, states, self.runtimes, profiles.profile,
            lambda: self._settings.keep_failed_sandboxes, background.spawn,
            controls.cancel_queued), runners)
        parallel = max_parallel or store.get_setting("max_parallel") or default_max_parallel()
        self.scheduler = Scheduler(
            store, int(parallel), bell=bell, pauses=pauses, load=runners,
            apply_requests=controls.apply_requests, start_task=attempts.start_task,
            provider_cap=profiles.provider_cap, runtime=self.runtimes.get)
        self._settings = Settings(store, self.runtimes, self.scheduler)
        self._storage = Storage(store, workspace, self.runtimes)
        self._driver = Driver(store, self.bus, background, states=states,
                              runtimes=self.runtimes, pauses=pauses, attempts=attempts,
                              scheduler=self.scheduler,
                              collect=self._storage.collect_garbage)
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
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
        config = await asyncio.to_thread(read_config, home)  # TOML files: off the loop
        store = await asyncio.to_thread(st.Store, st.db_path(home))
        engine = cls(home, store, config, max_parallel=max_parallel,
                     default_runtime=default_runtime)
        try:
            if drive_queue and not await engine._lease.take() and require_lease:
                raise LeaseHeld("another agentdeck process is already working the queue "
                                "(the GUI or `agentdeck run`); tasks you submit go to it")
            if drive_queue:
                engine.spawn(engine._lease.keep())
            engine.spawn(engine._states.watch())
        except BaseException:
            await engine.close()
            raise
        return engine

    @property
    def drives(self) -> bool:
        """Whether this engine drives the queue now (holds the lease)."""
        return self._lease.epoch is not None

    async def close(self) -> None:
        """Stop working. Running sandboxes keep running; the next engine re-attaches."""
        await self._background.stop_all()
        await self.runtimes.close()  # no more output is taken in before the lease goes
        await self._lease.release()
        await asyncio.to_thread(self.store.close)

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Start a background task, kept until it ends (or the engine closes)."""
        return self._background.spawn(coro)

    async def _start_driving(self) -> None:
        await self._driver.start()

    async def _stop_driving(self) -> None:
        await self._driver.stop()

    def _on_store(self, problem: StoreError | None) -> None:
        """The store cannot write (disk full...: its log lines wait) or can again."""
        self.bus.publish(Notice("error", str(problem)) if problem else
                         Notice("info", f"the database {self.store.path} can be written "
                                        "again: what waited is saved"))

    # ---- submitting ---------------------------------------------------------------------
    async def submit(self, repo: str | Path, prompt: str, *, agent: str = "shell",
                     runtime: str | None = None, priority: int = 0,
                     not_before: float | None = None, title: str | None = None,
                     timeout: float | None = None, include_uncommitted: bool = False,
                     budget_usd: float | None = None, paths: Sequence[str] = ()) -> Task:
        """Queue one task. The repo is snapshotted now: later edits do not leak in.

        Args:
            paths: Check out only these folders or files of the repo (git's sparse
                "cone": everything below them, plus the files of the folders above).

        Raises:
            InvalidInput, NotFound, RepoError: before anything is stored (see
                `agentdeck.engine.validate` for the rules).
        """
        spec = TaskSpec(prompt, str(repo), title or "", agent, runtime, priority, not_before,
                        timeout)
        return await self._submitter.submit(spec, include_uncommitted=include_uncommitted,
                                            budget_usd=budget_usd, paths=paths)

    async def submit_group(self, repo: str | Path, prompt: str, *,
                           agents: Sequence[str] = ("shell",), attempts: int = 1,
                           runtime: str | None = None, priority: int = 0,
                           not_before: float | None = None, title: str | None = None,
                           timeout: float | None = None, include_uncommitted: bool = False,
                           budget_usd: float | None = None,
                           paths: Sequence[str] = ()) -> list[Task]:
        """Queue one prompt as a best-of-N group: ``attempts`` tasks for each of ``agents``
        from one snapshot, sharing a group id; accepting one rejects the others.

        Raises:
            InvalidInput, NotFound, RepoError: for any attempt (an unknown profile, fewer
                than 2 or more than `validate.MAX_GROUP` attempts): nothing is stored.
        """
        spec = TaskSpec(prompt, str(repo), title or "", "", runtime, priority, not_before,
                        timeout)
        return await self._submitter.submit_group(
            spec, list(agents), attempts, include_uncommitted=include_uncommitted,
            budget_usd=budget_usd, paths=paths)

    async def submit_batch(self, spec: BatchSpec,
                           on_snapshot: Callable[[int, int, str], None] | None = None) -> list[Task]:
        """Queue every task of a batch in one transaction, or none of them; an error
        names the task's line in its batch file, and nothing is left behind.
        ``on_snapshot(done, total, repo)`` is told (from a worker thread) after each
        repo's snapshot, for a progress bar."""
        tasks = await self._submitter.submit_batch(spec, on_snapshot)
        if self.drives:  # the engine that will run them builds their base layers now
            self._warmer.batch_queued(tasks)
        return tasks

    async def seed_demo(self) -> list[Task]:
        """Queue the demo batch on the local runtime, once: only into an empty data dir."""
        return await demo.seed_demo(self)

    async def seed_self_test(self, repo_dir: Path | str) -> Task:
        """Queue one quick demo task on a new copy of the sample repo at ``repo_dir``."""
        return await demo.seed_self_test(self, Path(repo_dir))

    # ---- control ------------------------------------------------------------------------
    async def cancel(self, task_id: str) -> Task:
        """Cancel a queued or running task (running: SIGTERM, grace, SIGKILL)."""
        return await self._controls.cancel(task_id)

    async def retry(self, task_id: str) -> Task:
        """Run a finished task again from its snapshot, as a new attempt (old log kept)."""
        return await self._controls.retry(task_id)

    async def follow_up(self, task_id: str, message: str) -> Task:
        """Send a new instruction to a finished task: a new attempt in the same working copy."""
        return await self._controls.follow_up(task_id, message)

    async def collect(self, task_id: str, *, max_files: int | None = None,
                      max_bytes: int | None = None) -> Task:
        """Collect again from the container kept when the task's change was over a limit,
        with these limits; the change then goes to review."""
        return await self._recollect.collect(task_id, max_files, max_bytes)

    async def wait_idle(self, task_id: str, timeout: float = 60.0) -> None:
        """Wait until this engine no longer runs an attempt of the task."""
        await self.runners.wait_idle(task_id, timeout)

    async def update_settings(self, **settings: Any) -> None:
        """Store and apply settings (see `Settings.update`; raises InvalidInput)."""
        await self._settings.update(**settings)

    async def get_settings(self) -> dict[str, Any]:
        return await self._settings.get()

    # ---- review -------------------------------------------------------------------------
    async def disk_usage(self) -> StorageReport:
        """The disk the tasks' files take, per task and per repo (`agentdeck du`)."""
        return await self._storage.usage()

    async def collect_garbage(self, dry_run: bool = False) -> StorageReport:
        """Remove the files no task needs any more (`agentdeck gc`); ``dry_run``: only
        say what would go (the report's ``removable`` entries)."""
        return await self._storage.collect_garbage(dry_run)

    async def get_patch(self, task_id: str, paths: Sequence[str] | None = None) -> str:
        """The unified diff (git format, binary included) of what the agent changed."""
        return await self._reviews.get_patch(task_id, paths)

    async def get_diff(self, task_id: str) -> DiffResult | None:
        """Files with status and +/- counts, and the paths refused as unsafe."""
        return await self._reviews.get_diff(task_id)

    async def get_hunks(self, task_id: str) -> list[FileHunks]:
        """Each changed file with its hunks, selectable as ``PATH#N`` (a binary, added,
        deleted, renamed or mode-changed file is one unit)."""
        return await self._reviews.get_hunks(task_id)

    async def accept(self, task_id: str, *, only: Sequence[str] = (),
                     exclude: Sequence[str] = (), branch: bool = False,
                     run_hooks: bool | None = None) -> AcceptResult:
        """Apply the change (only the files and hunks ``only`` names, less those
        ``exclude`` names: ``PATH`` or ``PATH#N``) to the user's repo as one commit, or
        only branch ``agentdeck/<id>`` (see `Reviews.accept`; raises ConflictError naming
        the files, InvalidInput for a selector that is not in the diff)."""
        return await self._reviews.accept(task_id, only=only, exclude=exclude, branch=branch,
                                          run_hooks=run_hooks)

    async def reject(self, task_id: str) -> Task:
        """Refuse the agent's change (a running task is cancelled); `reopen` undoes it
        while the working copy is kept (`Reviews.reject`)."""
        return await self._reviews.reject(task_id)

    async def reopen(self, task_id: str) -> Task:
        """Undo a rejection: the change waits for review again (raises InvalidInput once
        the working copy is gone)."""
        return await self._reviews.reopen(task_id)

    async def review_queue(self, order: str = "oldest") -> list[Task]:
        """Every task waiting for review, in inbox order: ``oldest`` (waited longest
        first) or ``batch`` (see `agentdeck.engine.models.review_order`)."""
        return await self._queries.review_queue(order)

    async def comment(self, task_id: str, path: str, line: int, text: str,
                      end_line: int | None = None) -> Comment:
        """Comment on lines of the task's diff (new side), quoting them (raises
        InvalidInput for a line outside the diff; see `Comments.add`)."""
        return await self._comments.add(task_id, path, line, text, end_line)

    async def comments(self, task_id: str, *, current: bool = True) -> list[Comment]:
        """The task's comments: on the diff under review now (``current``), or all."""
        return await self._comments.for_task(task_id, current=current)

    async def request_changes(self, task_id: str, message: str | None = None, *,
                              exclude: Sequence[str] = ()) -> Task:
        """Send the comments, ``message`` and the parts ``exclude`` leaves out back to
        the task as a follow-up (a new attempt in the same working copy)."""
        return await self._comments.request_changes(task_id, message, exclude)

    async def compare(self, group: str) -> list[TaskSummary]:
        """A best-of-N group's attempts side by side (by group id, a unique prefix of it,
        or the id of one of its tasks)."""
        return await self._reports.compare(group)

    async def report(self, batch: str) -> Report:
        """How a batch went (id, prefix or name), or ``LAST_NIGHT``: the tasks submitted
        since yesterday 18:00 local time; failures say why."""
        return await self._reports.report(batch)

    async def get_interdiff(self, task_id: str,
                            paths: Sequence[str] | None = None) -> str | None:
        """What changed since the review that last requested changes (``None``: none did)."""
        return await self._comments.interdiff(task_id, paths)

    # ---- overlaps, freshen, merge queue -------------------------------------------------
    async def overlaps(self) -> dict[str, tuple[Overlap, ...]]:
        """Running or waiting tasks of one repo that touch the same files: task id ->
        the others and the shared paths (tasks without overlaps left out)."""
        return await self._radar.overlaps()

    async def freshen(self, task_ids: Sequence[str], *,
                      hand_back: bool = False) -> list[Freshening]:
        """Rebase waiting tasks onto their branch's head (see `Freshener.freshen`; a
        conflicting one is marked, or with ``hand_back`` given to its agent)."""
        return await self._freshener.freshen(task_ids, hand_back=hand_back)

    async def approve(self, task_id: str, approved: bool = True) -> Task:
        """Mark a waiting task approved for landing (or take the mark away)."""
        return await self._approvals.approve(task_id, approved)

    async def approved(self) -> list[Task]:
        """The approved waiting tasks, in the order they were approved."""
        return await self._approvals.approved()

    async def land(self, task_ids: Sequence[str], *, test: str | None = None,
                   progress: Progress | None = None) -> LandReport:
        """Land tasks one at a time in this order, testing each candidate first, and
        stop at the first failure (see `LandQueue.land`)."""
        return await self._land_queue.land(task_ids, test=test, progress=progress)

    # ---- queries ------------------------------------------------------------------------
    async def get_task(self, task_id: str) -> Task:
        """A task by id or unique id prefix (raises NotFound, InvalidInput if ambiguous)."""
        return await self._queries.get_task(task_id)

    async def list_tasks(self, **filters: Any) -> list[Task]:
        return await self._queries.list_tasks(**filters)

    async def get_logs(self, task_id: str, **kw: Any) -> list[LogEntry]:
        """Stored entries (after_seq, before_seq, limit, newest), pending ones included."""
        return await self._queries.get_logs(task_id, **kw)

    async def counts(self) -> dict[str, int]:
        return await self._queries.counts()

    async def list_batches(self) -> list[Batch]:
        return await self._queries.list_batches()

    async def batch_progress(self, batch_id: str) -> dict[str, int]:
        return await self._queries.batch_progress(batch_id)

    async def attempts(self, task_id: str) -> list[dict[str, Any]]:
        return await self._queries.attempts(task_id)

    async def inspect_repo(self, path: str | Path) -> RepoInfo:
        return await self._queries.inspect_repo(path)

    async def working_copy_path(self, task_id: str, relative: str = "") -> Path:
        """A file of a task's working copy ("": the folder), for a front end to open
        (raises NotFound when it is gone or ``relative`` leaves it)."""
        return await self._queries.working_copy_path(task_id, relative)

    def active_count(self) -> int:
        """The attempts this engine runs now."""
        return self.runners.active_count()

    def runtime(self, name: str) -> Runtime:
        return self.runtimes.get(name)

    async def auto_runtime(self) -> str:
        """Settle the "auto" runtime (docker if usable, else local) and say why."""
        default = await self.runtimes.resolve_default()
        return self.runtimes.auto_reason or f"Using the {default} runtime"

    async def seq_counter(self, task_id: str) -> SeqCounter:
        """The counter of the task's log sequence numbers (one across all attempts)."""
        return await self._attempts.seq_counter(task_id)

    # ---- profiles -----------------------------------------------------------------------
    async def profiles(self) -> dict[str, AgentProfile]:
        return self._profiles.all()

    async def reload_profiles(self) -> None:
        """Read the profiles and providers files again (in a thread)."""
        await self._profiles.reload()

    async def read_profiles_text(self) -> str:
        """The text of the user's ``agents.toml`` ("" when there is none)."""
        return await self._profiles.read_text()

    async def save_profiles_text(self, text: str) -> dict[str, AgentProfile]:
        """Replace the user's ``agents.toml`` and use its profiles from now (raises
        InvalidInput naming the line and field; the file is kept then)."""
        return await self._profiles.save_text(text)

    # ---- API keys (`agentdeck.engine.config.secrets`; KeyringUnavailable) ---------------
    async def stored_secrets(self, names: Iterable[str]) -> dict[str, bool]:
        """Whether the keyring holds each secret name."""
        return await asyncio.to_thread(secrets.stored_secrets, list(names))

    async def store_secrets(self, values: dict[str, str]) -> None:
        """Keep API keys in the keyring under their variable names."""
        await asyncio.to_thread(secrets.store_secrets, dict(values))

    async def delete_secret(self, name: str) -> None:
        """Forget the keyring entry of a secret name."""
        await asyncio.to_thread(secrets.delete_secret, name)

    async def find_secret(self, name: str) -> str | None:
        """A secret's value by the one precedence (`secrets.find_secret`)."""
        return await asyncio.to_thread(secrets.find_secret, name)

    # ---- batch files --------------------------------------------------------------------
    async def parse_batch(self, text: str, *, source: str, base_dir: Path | str,
                          default_repo: Path | str | None = None,
                          at_override: str | float | None = None) -> BatchSpec:
        """Check a batch file's text against the current profiles (nothing is queued;
        raises BatchError naming the line)."""
        return await batch_files.parse(text, agents=self._profiles.all(), source=source,
                                       base_dir=base_dir, default_repo=default_repo,
                                       at_override=at_override)

    async def read_batch_file(self, path: Path | str) -> str:
        """The text of a batch file (raises InvalidInput naming the file and why)."""
        return await batch_files.read(path)

    async def export_batch(self, spec: BatchSpec, path: Path | str) -> None:
        """Write ``spec`` as a batch file (raises InvalidInput naming the file and why)."""
        await batch_files.export(spec, path)
