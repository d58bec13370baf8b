"""Runs one attempt of a task: working copy → sandbox → wait → diff → final state.

Every state change is stored (compare-and-set) before it is announced, fenced with the
lease epoch the runner was made under (`agentdeck.engine.core.lease`): once another engine has taken the
queue, the runner's writes are refused and it stops without touching the sandbox. An
engine that is shut down (or loses the lease) while attempts run leaves their sandboxes
running; the next engine resumes them through `AttemptRunner.create(..., resume=True)`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, TypeVar

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.cli_check import find_cli
from agentdeck.engine.agents.registry import adapter_for
from agentdeck.engine.egress.allowlist import with_api_hosts
from agentdeck.engine.errors import AgentdeckError, LeaseLost, OverLimit, StoreError
from agentdeck.engine.logs.sink import SeqCounter, TaskLog
from agentdeck.engine.logs.masking import Masker
from agentdeck.engine.config.secrets import agent_env
from agentdeck.engine.models import AgentProfile, EntryKind, ReviewState, Task, TaskState
from agentdeck.engine.events import EventBus
from agentdeck.engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sandbox
from agentdeck.engine.runtimes.select import RuntimeRegistry
from agentdeck.engine.core.reports import FAILURE_LINES
from agentdeck.engine.core.setup_phase import copy_local_files, remove_local_files, run_setup
from agentdeck.engine.core.task_states import TaskStates
from agentdeck.engine.core.trees import starts_from_tree, tree_source
from agentdeck.engine.store.db import RETRY_INTERVAL, Store
from agentdeck.engine.workspace import Workspace

log = logging.getLogger(__name__)

STOP_GRACE = 10.0
T = TypeVar("T")


class SetupFailed(AgentdeckError):
    """The profile's setup script failed: the agent never ran."""


@dataclass(frozen=True)
class AttemptServices:
    """What an attempt uses of the engine (the same for every attempt)."""

    home: Path  # the data dir: run dirs, the CLI's state
    store: Store
    bus: EventBus
    workspace: Workspace
    states: TaskStates
    runtimes: RuntimeRegistry
    profile: Callable[[str], AgentProfile]
    keep_failed: Callable[[], bool]  # the setting: keep a failed attempt's sandbox
    spawn: Callable[[Awaitable[Any]], "asyncio.Task[Any]"]
    cancel_queued: Callable[[str, str], Awaitable[None]]  # a batch's queued tasks


class AttemptRunner:
    """Drives one attempt. `run` never raises except on engine shutdown (CancelledError)."""

    def __init__(self, services: AttemptServices, task: Task, seq: SeqCounter, *,
                 secret_values: Iterable[str], resume: bool = False) -> None:
        self.services = services
        self.states = services.states
        self.epoch = services.states.epoch  # every write of this attempt is fenced with it
        self.task = task
        self.resume = resume
        self.stop_state: TaskState | None = None
        self.stop_reason: str | None = None
        self.sandbox: Sandbox | None = None
        self._usage = {"tokens_in": task.tokens_in, "tokens_out": task.tokens_out,
                       "cost_usd": task.cost_usd}
        self._question: str | None = None
        self._batch_budget: float | None = None
        self._batch_others = 0.0
        self.profile: AgentProfile = services.profile(task.agent)
        self.masker = Masker(secret_values)
        self.adapter = self._adapter()
        self.tasklog = TaskLog(
            task.id, task.attempt, seq, store=services.store, bus=services.bus,
            adapter=self.adapter, masker=self.masker, on_facts=self._on_facts)

    @classmethod
    async def create(cls, services: AttemptServices, task: Task, seq: SeqCounter, *,
                     resume: bool = False) -> "AttemptRunner":
        """A runner whose masker knows the profile's secrets (looked up in a thread: the
        keyring may block)."""
        secrets = services.profile(task.agent).secrets
        values = (await asyncio.to_thread(agent_env, secrets)).values()
        return cls(services, task, seq, resume=resume, secret_values=values)

    def _adapter(self) -> AgentAdapter:
        if self.profile.kind == "builtin":
            return AgentAdapter(self.profile)  # entries arrive parsed, in-process
        return adapter_for(self.profile, self.task)

    def _runtime(self) -> Runtime:
        if self.profile.kind == "builtin":  # the loop in the engine, tools on task.runtime
            return self.services.runtimes.get(f"builtin:{self.task.runtime}")
        return self.services.runtimes.get(self.task.runtime)

    # ---- public -------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except LeaseLost:  # the new holder of the queue re-attaches to the sandbox
            log.info("stopped running %s: another agentdeck process took the queue",
                     self.task.id)
        except asyncio.CancelledError:
            if self.sandbox is not None and self.profile.kind == "builtin":
                await self.sandbox.stop()  # its loop runs here: no one can re-attach to it
            raise

    async def _run(self) -> None:
        try:
            await self._load_batch_budget()
            self.sandbox = await (self._attach() if self.resume else self._start())
            if self.sandbox is None:
                return  # an earlier engine died before it launched the agent: queued again
            outcome = await self._wait(self.sandbox)
            await self._finish(self.sandbox, outcome)
        except (asyncio.CancelledError, LeaseLost):
            raise
        except AgentdeckError as exc:
            await self._fail(str(exc))
        except Exception as exc:  # a bug: the task fails, the engine goes on
            log.exception("attempt of %s crashed", self.task.id)
            await self._fail(f"internal error in agentdeck: {exc!r}")

    async def cancel(self, state: TaskState = TaskState.CANCELLED,
                     reason: str = "cancelled by the user") -> None:
        """Stop the sandbox (SIGTERM, grace, SIGKILL); the attempt ends as ``state``."""
        if self.stop_state is None:
            self.stop_state, self.stop_reason = state, reason
        if self.sandbox is not None:
            await self.sandbox.stop(STOP_GRACE)

    # ---- steps --------------------------------------------------------------------------
    def _spec(self, workdir: Path) -> LaunchSpec:
        """The launch of this attempt (blocking: secrets from the keyring, the run dirs)."""
        task, profile = self.task, self.profile
        prompt = task.follow_up or task.prompt
        argv = [prompt] if profile.kind == "builtin" else self.adapter.argv(task, prompt)
        env = agent_env(list(profile.env) + list(profile.secrets))
        profile = with_api_hosts(profile, env, self.services.home)
        run_dir = self.services.home / "runs" / task.id / str(task.attempt)
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # in the private data dir too
        state_dir = None
        if profile.kind != "builtin":  # a CLI's sessions, for `--resume` in a follow-up
            state_dir = self.services.home / "runs" / task.id / "agent-home"
            state_dir.mkdir(exist_ok=True, mode=0o700)
        shared: tuple[Path, ...] = ()
        if self._runtime().shares_host_paths:
            shared = tuple(self.services.workspace.object_dirs(task.repo))
        tree = (tree_source(self.services.workspace, task.repo, task.base_commit)
                if self._from_tree() else None)
        return LaunchSpec(task.id, task.attempt, tuple(argv), workdir, profile, env, run_dir,
                          state_dir, shared_dirs=shared, tree=tree)

    def _from_tree(self) -> bool:
        return starts_from_tree(self._runtime(), self.profile, self.task)

    async def _workdir(self) -> Path:
        task = self.task
        if self._reuses_workdir():
            return Path(task.workdir)
        if self._from_tree():  # the sandbox holds the base tree: only changes come here
            return await asyncio.to_thread(self.services.workspace.prepare_overlay, task.id)
        return await asyncio.to_thread(
            self.services.workspace.prepare, task.id, task.repo, task.base_commit,
            shared_objects=self._runtime().shares_host_paths, paths=task.paths)

    def _reuses_workdir(self) -> bool:
        """A follow-up goes on in the copy of the attempt before (while it is there)."""
        task = self.task
        return bool(task.follow_up and task.workdir and Path(task.workdir).is_dir())

    async def _start(self) -> Sandbox:
        workdir = await self._workdir()
        await self._copy_local_files(workdir)
        spec = await asyncio.to_thread(self._spec, workdir)
        runtime = self._runtime()
        await runtime.check(self.profile.image)
        if runtime.name == "local" and self.profile.kind not in ("shell", "builtin"):
            find_cli(self.profile)  # names the npm/pip package when the CLI is missing
        if self.profile.setup and not self.task.follow_up:
            await self._setup(self.services.runtimes.get(self.task.runtime), spec)
        what = "follow-up" if self.task.follow_up else "attempt"
        self.tasklog.system(f"{what} {self.task.attempt} starting: {' '.join(spec.argv)[:500]}")
        auto = self.services.runtimes.auto_notes.pop(self.task.id, None)
        for note in ([auto] if auto else []) + self.adapter.notes():
            self.tasklog.system(note)
        sandbox = await runtime.start(spec, self.tasklog)
        for note in sandbox.notes:
            self.tasklog.system(note)
        self.task = await self.states.transition(
            self.task.id, expect=[TaskState.PREPARING], state=TaskState.RUNNING,
            sandbox_ref=sandbox.ref, workdir=str(workdir), started_at=time.time(),
            epoch=self.epoch)
        if self.stop_state is not None:  # cancelled while preparing
            await sandbox.stop(STOP_GRACE)
        return sandbox

    async def _copy_local_files(self, workdir: Path) -> None:
        if not self.profile.copy_files:
            return
        tracked = await asyncio.to_thread(self.services.workspace.tracked_files,
                                          self.task.repo, self.task.base_commit)
        report = await asyncio.to_thread(copy_local_files, Path(self.task.repo), workdir,
                                         self.profile.copy_files, tracked)
        for line in report:
            self.tasklog.system(line)

    async def _setup(self, runtime: Runtime, spec: LaunchSpec) -> None:
        self.tasklog.system("setup: running the profile's setup script (with network)")
        outcome = await run_setup(runtime, spec, self.tasklog)
        if outcome.exit_code != 0:
            why = outcome.reason or f"exit code {outcome.exit_code}"
            raise SetupFailed(f"the setup script failed ({why}); the agent did not run")
        self.tasklog.system("setup: done")

    async def _attach(self) -> Sandbox | None:
        if self.task.state == TaskState.PREPARING and not await self._adopt():
            return None
        task = self.task
        spec = await asyncio.to_thread(self._spec, Path(task.workdir or "."))
        cursor = await asyncio.to_thread(self.services.store.get_cursor, task.id)
        runtime = self._runtime()
        sandbox = await runtime.attach(spec, task.sandbox_ref or "", cursor, self.tasklog)
        self.tasklog.system("re-attached after an agentdeck restart")
        if self.stop_state is not None:  # cancelled while re-attaching
            await sandbox.stop(STOP_GRACE)
        return sandbox

    async def _adopt(self) -> bool:
        """After a restart, a task an earlier engine was preparing: if that engine was killed
        after its runtime started the agent but before RUNNING and the sandbox were stored,
        record them now and go on with that agent in its working copy as it is; if no
        agent was started, queue the task again (False)."""
        task = self.task
        workdir = Path(task.workdir) if self._reuses_workdir() else \
            self.services.workspace.workdir(task.id)
        ref = await self._runtime().find(await asyncio.to_thread(self._spec, workdir))
        if ref is None:
            self.task = await self.states.transition(
                task.id, expect=[TaskState.PREPARING], state=TaskState.QUEUED, sandbox_ref=None)
            return False
        self.task = await self.states.transition(
            task.id, expect=[TaskState.PREPARING], state=TaskState.RUNNING, sandbox_ref=ref,
            workdir=str(workdir))
        return True

    async def _wait(self, sandbox: Sandbox) -> Outcome:
        waiter = asyncio.ensure_future(sandbox.wait())
        try:
            # asyncio.wait, not wait_for: it never cancels the waiter and, on 3.11, never
            # swallows a cancellation of this task (engine shutdown).
            done, _ = await asyncio.wait({waiter}, timeout=self._remaining_time())
            if not done:
                await self.cancel(TaskState.TIMED_OUT,
                                  f"timed out after {self.task.timeout:g} s (the task's limit)")
            return await waiter
        except asyncio.CancelledError:
            waiter.cancel()
            raise

    def _remaining_time(self) -> float | None:
        if not self.task.timeout:
            return None
        started = self.task.started_at or time.time()
        return max(0.0, self.task.timeout - (time.time() - started))

    async def _finish(self, sandbox: Sandbox, outcome: Outcome) -> None:
        await self._check_lease()  # collect and capture only while the task is ours
        if outcome.requeue_after is not None and self.stop_state is None:
            await sandbox.cleanup()  # the next attempt starts afresh
            await self._requeue(outcome)
            return
        state, error = self._final_state(outcome)
        if state == TaskState.FAILED and outcome.reason is None and self.stop_state is None:
            error = await self._with_output_tail(error or "the agent failed")
        fields: dict[str, Any] = {"exit_code": outcome.exit_code}
        keep = False
        try:
            collected = await sandbox.collect()
            workdir = Path(self.task.workdir)
            await asyncio.to_thread(remove_local_files, workdir, self.profile.copy_files)
            diff = await asyncio.to_thread(
                self.services.workspace.capture, self.task.id, self.task.repo,
                self.task.base_commit, workdir, collected.removed if collected else None,
                paths=self.task.paths)
            fields.update(result_commit=diff.commit, files_changed=len(diff.files),
                          lines_added=diff.added, lines_removed=diff.removed,
                          unsafe=json.dumps(list(diff.unsafe)) if diff.unsafe else None,
                          review=ReviewState.PENDING if diff.files else ReviewState.NONE)
            if state == TaskState.SUCCEEDED and not diff.files and self.adapter.acted is False:
                self.tasklog.system("warning: the agent ran no command and changed no file "
                                    "(see its log above)", EntryKind.ERROR)
        except OverLimit as exc:  # no lost work: the container stays for `collect`
            state, error = TaskState.FAILED, f"{error + '; ' if error else ''}{exc}"
            keep, fields["sandbox_ref"] = True, sandbox.ref
        except AgentdeckError as exc:
            state, error = TaskState.FAILED, f"{error + '; ' if error else ''}{exc}"
        keep = keep or (state != TaskState.SUCCEEDED and self.services.keep_failed())
        await self._end(state, error, **fields)
        await sandbox.cleanup(keep=keep)

    async def _with_output_tail(self, error: str) -> str:
        """``error`` ("exited with code 3") and, a line each, the last lines the agent
        wrote on stderr (as `Reports` shows a failure)."""
        store = self.services.store
        await store.awrite(lambda conn: None)  # commit the log rows still in the batch
        lines = await asyncio.to_thread(store.stderr_tail, self.task.id, self.task.attempt,
                                        FAILURE_LINES)
        return "\n".join([error, *lines])

    def _final_state(self, outcome: Outcome) -> tuple[TaskState, str | None]:
        if self.stop_state is not None:
            return self.stop_state, self.stop_reason
        if outcome.lost:
            return TaskState.FAILED, outcome.reason or "the agent's sandbox was lost"
        if outcome.oom_killed:
            return TaskState.FAILED, outcome.reason or "the agent was killed: out of memory"
        if self._question:
            return TaskState.NEEDS_INPUT, None
        if outcome.exit_code == 0:
            return TaskState.SUCCEEDED, None
        if outcome.exit_code is not None and outcome.exit_code < 0:
            return TaskState.FAILED, outcome.reason or f"the agent was killed by signal {-outcome.exit_code}"
        return TaskState.FAILED, outcome.reason or f"the agent exited with code {outcome.exit_code}"

    async def _end(self, state: TaskState, error: str | None, **fields: Any) -> None:
        words = state.value + (f": {error}" if error else "")
        kind = EntryKind.ERROR if error and state != TaskState.CANCELLED else EntryKind.SYSTEM
        self.tasklog.system(f"attempt {self.task.attempt} ended {words}", kind)
        finished = time.time()
        fields.setdefault("sandbox_ref", None)  # kept only for a collect over a limit
        self.task = await _until_stored(lambda: self.states.transition(
            self.task.id, state=state, error=error, finished_at=finished,
            question=self._question, epoch=self.epoch, **self._usage, **fields))
        await _until_stored(lambda: self.states.record_attempt(self.task, state, error,
                                                               self.epoch))

    async def _requeue(self, outcome: Outcome) -> None:
        """A passing condition (a rate limit): queue a fresh attempt after the wait."""
        self.tasklog.system(f"paused: {outcome.reason}; retrying in {outcome.requeue_after:.0f} s")
        await self.states.record_attempt(self.task, TaskState.QUEUED, outcome.reason, self.epoch)
        self.task = await self.states.transition(
            self.task.id, expect=[TaskState.RUNNING], state=TaskState.QUEUED, epoch=self.epoch,
            attempt=self.task.attempt + 1, sandbox_ref=None, **self._usage,
            not_before=time.time() + (outcome.requeue_after or 0))

    async def _fail(self, error: str) -> None:
        current = await asyncio.to_thread(self.services.store.get_task, self.task.id)
        if current.state.is_terminal:
            return
        await self._check_lease()  # the sandbox is stopped only while it is ours
        if self.sandbox is not None:
            await self.sandbox.stop(1.0)
            await self._seal()
        await self._end(TaskState.FAILED, error)

    async def _check_lease(self) -> None:
        """Raise `LeaseLost` if another engine has taken the queue since this attempt began
        (a fenced empty write: it waits for room while the disk is full)."""
        await _until_stored(lambda: self.states.fenced_write(lambda conn: None, self.epoch))

    async def _seal(self) -> None:
        """The agent ran but no capture followed: still leave its copy safe to open."""
        try:
            await asyncio.to_thread(self.services.workspace.seal, self.task.id)
        except AgentdeckError as exc:
            self.tasklog.system(str(exc), EntryKind.ERROR)

    # ---- budgets ------------------------------------------------------------------------
    def _check_task_budget(self) -> None:
        budget, spent = self.task.budget_usd, self._usage["cost_usd"]
        if budget is not None and spent >= budget:
            self._stop_over_budget(f"stopped: the task's budget of ${budget:.2f} was reached "
                                   f"(${spent:.2f} spent)")

    async def _load_batch_budget(self) -> None:
        """The batch's budget and its other tasks' cost, read once the attempt starts, so
        each usage fact is checked at once (an agent may take many steps a second)."""
        if self.task.batch_id:
            self._batch_budget, self._batch_others = await asyncio.to_thread(
                self.services.store.batch_budget, self.task.batch_id, self.task.id)

    async def _refresh_batch_cost(self) -> None:
        """Other tasks of the batch spend too: re-read what they cost, check again."""
        _, self._batch_others = await asyncio.to_thread(
            self.services.store.batch_budget, self.task.batch_id, self.task.id)
        self._check_batch_budget()

    def _check_batch_budget(self) -> None:
        budget = self._batch_budget
        spent = self._batch_others + self._usage["cost_usd"]
        if budget is None or spent < budget or self.stop_state is not None:
            return
        reason = f"stopped: the batch's budget of ${budget:.2f} was reached (${spent:.2f} spent)"
        self._stop_over_budget(reason)
        self.services.spawn(self.services.cancel_queued(self.task.batch_id, reason))

    def _stop_over_budget(self, reason: str) -> None:
        if self.stop_state is None:
            self.tasklog.system(reason, EntryKind.ERROR)
            self.services.spawn(self.cancel(TaskState.FAILED, reason))

    # ---- facts from the adapter ---------------------------------------------------------
    def _on_facts(self, task_id: str, data: dict[str, Any]) -> None:
        update: dict[str, Any] = {}
        usage = data.get("usage")
        if isinstance(usage, dict):
            self._usage["tokens_in"] += int(usage.get("input_tokens") or 0)
            self._usage["tokens_out"] += int(usage.get("output_tokens") or 0)
            self._usage["cost_usd"] += float(usage.get("cost_usd") or 0.0)
            update.update(self._usage)
            self._check_task_budget()
            self._check_batch_budget()
            if self._batch_budget is not None:
                self.services.spawn(self._refresh_batch_cost())
        if data.get("session_id"):
            update["session_id"] = str(data["session_id"])
        if data.get("question"):
            self._question = str(data["question"])
            update["question"] = self._question
        if update:
            self.services.spawn(self.states.transition(task_id, epoch=self.epoch, **update))


async def _until_stored(write: Callable[[], Awaitable[T]]) -> T:
    """``write()``, tried again while the disk under the database is full (the store tells
    the user): an attempt's end waits for room instead of being lost. An engine shutdown
    ends the wait; the next engine re-attaches to the finished sandbox."""
    while True:
        try:
            return await write()
        except StoreError as exc:
            if exc.kind != "full":
                raise
        await asyncio.sleep(RETRY_INTERVAL)
