"""The embedded local runtime: each agent is a process group on this machine.

The agent runs under a detached supervisor (`agentdeck.engine.runtimes.local.supervise`), so it outlives
the engine, confined by bubblewrap unless its profile says ``sandbox = "none"``
(`agentdeck.engine.runtimes.local.bwrap`); the supervisor writes its output, masked and capped, to files
in the run dir, which one shared reader thread (`agentdeck.engine.runtimes.local.tail`) tails into the
sinks. ``ref`` is the run dir path: all an engine started later needs to re-attach. An
egress-limited agent's proxy is served here (`agentdeck.engine.runtimes.local.egress`) and opened
again on re-attach.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from functools import partial
from pathlib import Path

from agentdeck.engine.egress.proxy import EventCallback
from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.models import Stream
from agentdeck.engine.config.paths import data_dir
from agentdeck.engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sandbox, Sink
from agentdeck.engine.runtimes.local.bwrap import PrivateEntries, default_cache_file, network_of
from agentdeck.engine.runtimes.local.egress import TaskEgress, open_egress
from agentdeck.engine.runtimes.local.launch import RunDir, build_request, is_alive, launch_supervisor
from agentdeck.engine.runtimes.local.supervise import MAX_OUTPUT_BYTES, STDERR_LOG, STDOUT_LOG
from agentdeck.engine.runtimes.local.order_log import ORDER_LOG
from agentdeck.engine.runtimes.local.tail import TailCursor, TailTarget, Tailer, decode_cursor

LOST_WHILE_AWAY = "agent process died while agentdeck was not running"
LOST_WHILE_RUNNING = "the agent's supervisor process died without recording an exit code"
#: How long `start` waits for the supervisor to report the agent's pid.
START_TIMEOUT = 30.0
#: How often the reader thread checks that an idle sandbox's processes still exist.
_LIVENESS_INTERVAL = 0.5
_POLL = 0.02


class LocalSandbox(Sandbox):
    """One agent process group run by a supervisor; see the module docstring."""

    def __init__(self, run: RunDir, loop: asyncio.AbstractEventLoop, attached: bool) -> None:
        self.ref = str(run.path)
        self._run = run
        self._lost_reason = LOST_WHILE_AWAY if attached else LOST_WHILE_RUNNING
        self._pids = run.pids()
        supervisor = self._pids.get("supervisor") or {}
        #: Tells this sandbox from earlier ones in the same run dir (part of each cursor).
        self.run_id = f"{supervisor.get('pid')}@{supervisor.get('ctime')}"
        self._future: asyncio.Future[Outcome] = loop.create_future()
        self._next_liveness = 0.0
        self.target: TailTarget | None = None

    async def wait(self) -> Outcome:
        return await asyncio.shield(self._future)

    async def stop(self, grace: float = 10.0) -> None:
        if not self._signal_group(signal.SIGTERM):
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self._run.exit_outcome() is not None:
                return
            await asyncio.sleep(_POLL)
        self._signal_group(signal.SIGKILL)

    async def cleanup(self, keep: bool = False) -> None:
        """Stop tailing; unless ``keep``, end the agent and delete the run files."""
        if not keep and self._run.exit_outcome() is None:
            await self.stop(grace=0)
            await self._wait_exit_file(timeout=10.0)
        self.abandon()
        if not keep:
            await asyncio.to_thread(self._run.remove)

    # -- reader thread side -------------------------------------------------------------

    def probe(self) -> Outcome | None:
        """The outcome once the agent ended (or vanished); None while it runs."""
        outcome = self._run.exit_outcome()
        if outcome is not None or time.monotonic() < self._next_liveness:
            return outcome
        self._next_liveness = time.monotonic() + _LIVENESS_INTERVAL
        if not self._pids.get("agent"):
            self._pids = self._run.pids()
        if is_alive(self._pids.get("supervisor")) or is_alive(self._pids.get("agent")):
            return None
        # The supervisor may have written the exit file just before it ended.
        outcome = self._run.exit_outcome()
        if outcome is not None:
            return outcome
        return Outcome(exit_code=None, lost=True, reason=self._lost_reason)

    # -- loop side ------------------------------------------------------------------------

    def resolve(self, outcome: Outcome) -> None:
        if not self._future.done():
            self._future.set_result(outcome)

    def abandon(self) -> None:
        """No more output or outcome for this handle (the agent itself is not touched)."""
        if self.target is not None:
            self.target.stopped = True
        if not self._future.done():
            self._future.cancel()

    def fail(self, exc: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(exc)

    def _signal_group(self, signum: int) -> bool:
        """Signal the agent's process group if it still runs; False if it is over."""
        if self._run.exit_outcome() is not None:
            return False
        if not self._pids.get("agent"):
            self._pids = self._run.pids()
        agent = self._pids.get("agent")
        # The pgid is the agent's pid; only while the supervisor (which reaps the agent
        # last) or the agent itself lives can it not have been reused by another group.
        if not agent or not (is_alive(self._pids.get("supervisor")) or is_alive(agent)):
            return False
        try:
            os.killpg(agent["pid"], signum)
        except ProcessLookupError:
            return False
        return True

    async def _wait_exit_file(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._run.exit_outcome() is None and time.monotonic() < deadline:
            await asyncio.sleep(_POLL)


class LocalRuntime(Runtime):
    """Runs agents as local process groups; one reader thread tails all their output."""

    name = "local"
    shares_host_paths = True

    def __init__(self, runs_dir: Path | None = None, python: str = sys.executable,
                 max_output_bytes: int = MAX_OUTPUT_BYTES,
                 on_egress: EventCallback | None = None) -> None:
        """Create the runtime (no thread starts before the first sandbox).

        Args:
            runs_dir: where run dirs of specs without ``run_dir`` go (default: data dir/runs).
            python: the interpreter that runs the supervisor (it imports ``engine``).
            max_output_bytes: bytes of each output stream kept per attempt; the rest is
                dropped (the agent keeps running) and a marker line says how much.
            on_egress: ``on_egress(task_id, "host:port", allowed)`` for each connection an
                egress-limited agent tries.
        """
        self._runs_dir = runs_dir
        self._python = python
        self._max_output = max_output_bytes
        self._on_egress = on_egress or (lambda task, target, allowed: None)
        self._tailer = Tailer()
        self._sandboxes: list[LocalSandbox] = []
        self._private = PrivateEntries(default_cache_file())
        self._private.warm()
        self._egress: dict[str, TaskEgress] = {}

    async def start(self, spec: LaunchSpec, sink: Sink) -> LocalSandbox:
        if not spec.argv:
            raise InvalidInput(f"task {spec.task_id}: empty command")
        if not Path(spec.workdir).is_dir():
            raise InvalidInput(f"task {spec.task_id}: working copy {spec.workdir} is not a directory")
        run = RunDir(self._run_dir(spec))
        await asyncio.to_thread(run.prepare)
        egress_dir = await self._open_egress(spec, run)
        try:
            request = await asyncio.to_thread(build_request, spec, run.path, self._private,
                                              self._max_output, egress_dir)
            await asyncio.to_thread(launch_supervisor, request.body, run.path, self._python,
                                    START_TIMEOUT)
            await self._await_agent(run)
        except BaseException:
            await self._close_egress(str(run.path))
            raise
        sandbox = LocalSandbox(run, asyncio.get_running_loop(), attached=False)
        sandbox.notes = request.notes
        self._follow(sandbox, TailCursor(), sink)
        return sandbox

    async def attach(self, spec: LaunchSpec, ref: str, cursor: str | None, sink: Sink) -> LocalSandbox:
        if not ref:
            raise InvalidInput(f"task {spec.task_id}: no local sandbox reference to attach to")
        start = decode_cursor(cursor)
        run = RunDir(Path(ref))
        if run.exit_outcome() is None and run.path.is_dir():
            await self._open_egress(spec, run)
        sandbox = LocalSandbox(run, asyncio.get_running_loop(), attached=True)
        if start.run not in (None, sandbox.run_id):
            # A cursor of an earlier sandbox in this run dir (an attempt started again
            # before any of its lines were stored): this one's output starts at zero.
            start = TailCursor()
        self._follow(sandbox, start, sink)
        return sandbox

    async def find(self, spec: LaunchSpec) -> str | None:
        """The run dir of ``spec``'s attempt if a supervisor launched there started the
        agent (or ended): the run dir is named after the task and attempt, and its lock
        shows a launch an engine did not live to finish (see `supervise.LOCK_FILE`)."""
        run = RunDir(self._run_dir(spec))
        return str(run.path) if await asyncio.to_thread(run.launched, START_TIMEOUT) else None

    async def close(self) -> None:
        """Stop the reader thread; agents keep running and can be attached to later."""
        await asyncio.to_thread(self._tailer.close)
        for sandbox in self._sandboxes:
            sandbox.abandon()
        self._sandboxes.clear()
        for key in list(self._egress):
            await self._close_egress(key)

    async def _open_egress(self, spec: LaunchSpec, run: RunDir) -> Path | None:
        """Serve the proxy socket of a confined egress-limited agent; its dir, else None."""
        if spec.profile.sandbox == "none" or network_of(spec.profile) != "egress":
            return None
        sock_dir = run.path / "egress"
        await self._close_egress(str(run.path))
        self._egress[str(run.path)] = await open_egress(spec, sock_dir, self._on_egress)
        return sock_dir

    async def _close_egress(self, key: str) -> None:
        egress = self._egress.pop(key, None)
        if egress is not None:
            await egress.close()

    def _run_dir(self, spec: LaunchSpec) -> Path:
        if spec.run_dir is not None:
            return Path(spec.run_dir)
        base = self._runs_dir or data_dir() / "runs"
        return base / spec.task_id / str(spec.attempt)

    async def _await_agent(self, run: RunDir) -> None:
        """Wait until the supervisor has started the agent (or recorded why it could not).

        Each look at the run dir (two small files, /proc) is made in a worker thread:
        with dozens of agents starting at once, those reads on the loop added up to
        visible lag. The polls start 5 ms apart and back off to 50 ms."""
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.005
        while True:
            started, ended, supervisor_died = await asyncio.to_thread(_launch_state, run)
            if started or ended:
                return
            if supervisor_died:
                raise RuntimeUnavailable(
                    f"the local agent supervisor died before starting the agent: "
                    f"{run.log_tail() or 'no output'} (see {run.path})")
            if time.monotonic() > deadline:
                raise RuntimeUnavailable(
                    f"the local agent supervisor did not start the agent within "
                    f"{START_TIMEOUT:.0f} s (run dir {run.path})")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _follow(self, sandbox: LocalSandbox, start: TailCursor, sink: Sink) -> None:
        run = Path(sandbox.ref)
        paths = {Stream.STDOUT: run / STDOUT_LOG, Stream.STDERR: run / STDERR_LOG}
        sandbox.target = TailTarget(
            loop=asyncio.get_running_loop(), sink=sink, run=sandbox.run_id, paths=paths,
            order_path=run / ORDER_LOG, start=start,
            probe=sandbox.probe, on_done=partial(self._ended, sandbox), on_error=sandbox.fail,
        )
        self._sandboxes.append(sandbox)
        self._tailer.add(sandbox.target)

    def _ended(self, sandbox: LocalSandbox, outcome: Outcome) -> None:
        if sandbox in self._sandboxes:
            self._sandboxes.remove(sandbox)
        if sandbox.ref in self._egress:
            asyncio.ensure_future(self._close_egress(sandbox.ref))
        sandbox.resolve(outcome)


def _launch_state(run: RunDir) -> tuple[bool, bool, bool]:
    """Whether the agent started, whether the attempt ended, and whether the supervisor
    died before either (blocking: file reads and /proc)."""
    pids = run.pids()
    if pids.get("agent"):
        return True, False, False
    if run.exit_outcome() is not None:
        return False, True, False
    # Read again after the liveness check: the supervisor writes the exit file, then ends.
    return False, False, bool(pids) and not is_alive(pids.get("supervisor")) and (
        run.exit_outcome() is None)
