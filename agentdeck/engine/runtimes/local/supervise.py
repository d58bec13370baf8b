"""The detached supervisor of one local agent process, and the files it leaves in the run dir.

Started by the local runtime as ``python -I -m agentdeck.engine.runtimes.local.supervise RUN_DIR`` in a
session of its own. It reads the launch request (`Request` as JSON) from stdin and forks:
the parent exits at once (the runtime waits for that), the child is the supervisor,
reparented away from the engine so that it and the agent outlive the engine process. The
supervisor:

1. holds the run dir's lock it inherited (`LOCK_FILE`) until it ends, records its own
   pid (``pids``), then starts the agent in a new process group in WORKDIR
   — inside bubblewrap when the request has a sandbox, in the memory/pids cgroup when it
   has one, with the rlimits it names — and records the agent's pid (= pgid);
2. reads the agent's stdout and stderr from pipes, in one loop, and writes them, secrets
   masked (`agentdeck.engine.logs.masking.StreamMasker`) and each stream capped at ``max_output_bytes``,
   to ``stdout.log`` / ``stderr.log`` (0600), which the engine tails; each switch from one
   stream to the other goes to the order log (`agentdeck.engine.runtimes.local.order_log`), so the engine
   can merge the two in the order they were read. Past the cap it keeps draining the pipe
   (the agent never blocks) and ends the file with one marker line;
3. waits for the agent, kills whatever is left of its process group (like a container
   whose init exited) and writes the exit code (negative: killed by that signal)
   atomically to ``exit``.

The agent's environment and the secret values travel through that pipe (and on to
bubblewrap through a memfd), so no secret lands on disk unmasked or on a command line, and
nothing meant for the agent (LD_PRELOAD, ...) applies to the supervisor or to bubblewrap.
Only the stdlib, psutil and the stdlib-only helpers below are imported here.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import select
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from agentdeck.engine.logs.masking import StreamMasker
from agentdeck.engine.runtimes.local import cgroup
from agentdeck.engine.runtimes.local.order_log import ORDER_LOG, OrderWriter, max_records

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
PIDS_FILE = "pids"
#: Locked by the engine before it launches the supervisor; the launcher and the supervisor
#: inherit the locked descriptor and hold it as long as they live (the agent does not get
#: it). An engine started later tells "a launch is under way or runs" from "nothing runs
#: here" by this lock, also before the supervisor could write ``pids``.
LOCK_FILE = "lock"
EXIT_FILE = "exit"
SUPERVISOR_LOG = "supervisor.log"
#: Bytes of one stream written to its log before the rest is dropped (the request may
#: say otherwise).
MAX_OUTPUT_BYTES = 256 << 20

#: How long leftover members of the agent's group may take to die after SIGKILL.
_GROUP_DRAIN_SECONDS = 2.0
#: How long the pipes may stay open after the agent's group is gone (an unconfined agent's
#: detached process holding them) before the logs are closed without the rest.
_PIPE_DRAIN_SECONDS = 2.0
_PR_SET_CHILD_SUBREAPER = 36
_READ = 256 * 1024
#: Reads of a pipe after the agent's group is gone (a pipe holds at most 1 MiB).
_DRAIN_READS = 8
#: Ignored by bubblewrap's monitor, so that a stop's SIGTERM reaches the agent inside and
#: not the monitor (which would take the sandbox down with SIGKILL at once).
_MONITOR_IGNORES = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
_RLIMITS = {"fsize": resource.RLIMIT_FSIZE, "cpu": resource.RLIMIT_CPU,
            "nproc": resource.RLIMIT_NPROC}


def truncation_marker(dropped: int) -> bytes:
    """The line that ends a log whose stream went over the cap."""
    return f"[agentdeck: output truncated, {dropped} bytes dropped]\n".encode()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so that readers see either the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None if the file does not exist (yet)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def process_identity(pid: int) -> dict[str, float | int]:
    """Pid plus creation time: together they name a process even after pid reuse."""
    return {"pid": pid, "ctime": psutil.Process(pid).create_time()}


def _become_subreaper() -> None:
    # Orphaned grandchildren are then reparented to us, so we can reap them and tell
    # when the agent's process group is really empty. Linux only; harmless elsewhere.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _open_log(run_dir: Path, name: str) -> int:
    return os.open(run_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


class OutputLogs:
    """The agent's stdout and stderr logs and their order log, as the supervisor writes them.

    Each stream is capped at ``cap`` bytes: past it the rest is dropped (and counted), and
    `close` ends that log with one marker line. Every switch of stream goes to the order
    log before the bytes it announces (`agentdeck.engine.runtimes.local.order_log`).
    """

    def __init__(self, run_dir: Path, cap: int) -> None:
        # The order log first: a reader that finds data but no order log knows it is
        # looking at the files of an older supervisor.
        order = _open_log(run_dir, ORDER_LOG)
        self._order = OrderWriter(order, max_records(cap))
        self._fds = [order, _open_log(run_dir, STDOUT_LOG), _open_log(run_dir, STDERR_LOG)]
        self._cap = cap
        self._sizes = [os.fstat(fd).st_size for fd in self._fds[1:]]
        self._dropped = [0, 0]
        self._last = [b"\n", b"\n"]

    def put(self, stream: int, data: bytes) -> None:
        """Append ``data`` to stream 0 (stdout) or 1 (stderr), within the cap."""
        room = max(0, self._cap - self._sizes[stream])
        self._dropped[stream] += max(0, len(data) - room)
        self._write(stream, data[:room])

    def close(self) -> None:
        """End each log that went over the cap with its marker; close the files."""
        for stream, dropped in enumerate(self._dropped):
            if dropped:
                lead = b"" if self._last[stream] == b"\n" else b"\n"
                self._write(stream, lead + truncation_marker(dropped))
        for fd in self._fds:
            os.close(fd)

    def _write(self, stream: int, data: bytes) -> None:
        if not data:
            return
        self._order.switch(stream, self._sizes)
        os.write(self._fds[1 + stream], data)
        self._sizes[stream] += len(data)
        self._last[stream] = data[-1:]


class OutputPump(threading.Thread):
    """Copies the agent's stdout and stderr pipes into their logs, masked, from one loop:
    what it read first is written first, and the agent never blocks on a full pipe."""

    def __init__(self, pipes: tuple[int, int], logs: OutputLogs, secrets: list[str]) -> None:
        super().__init__(daemon=True, name="pump")
        self._open = {pipe: stream for stream, pipe in enumerate(pipes)}
        self._maskers = [StreamMasker(secrets), StreamMasker(secrets)]
        self._logs = logs
        self._stop_r, self._stop_w = os.pipe()
        for pipe in pipes:
            os.set_blocking(pipe, False)

    def run(self) -> None:
        poller = select.poll()
        for fd in (*self._open, self._stop_r):
            poller.register(fd, select.POLLIN)
        while self._open:
            ready = [fd for fd, _ in poller.poll()]
            if self._stop_r in ready:
                break
            for fd in ready:
                if self._copy(fd) is None:
                    poller.unregister(fd)
        for fd in list(self._open):  # told to stop: what the pipe holds now, then its end
            for _ in range(_DRAIN_READS):
                if not self._copy(fd):
                    break
            if fd in self._open:
                self._end(fd)

    def finish(self, timeout: float) -> None:
        """Wait for the end of both pipes; past ``timeout`` copy what they hold and stop
        (whoever still holds a write end outlived the agent's group). Then end the logs."""
        self.join(timeout)
        if self.is_alive():
            os.write(self._stop_w, b"x")
            self.join()
        os.close(self._stop_r)
        os.close(self._stop_w)
        self._logs.close()

    def _copy(self, fd: int) -> bool | None:
        """One read of ``fd``: True if it had bytes, False if none yet, None at its end."""
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return False
        if not data:
            self._end(fd)
            return None
        stream = self._open[fd]
        self._logs.put(stream, self._maskers[stream].feed(data))
        return True

    def _end(self, fd: int) -> None:
        stream = self._open.pop(fd)
        self._logs.put(stream, self._maskers[stream].flush())
        os.close(fd)


def _wait_exit_status(pid: int) -> int:
    """Wait for ``pid`` to exit without reaping it, so its pgid cannot be reused yet."""
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return -signal.SIGKILL
        if info is None:
            continue
        if info.si_code == os.CLD_EXITED:
            return info.si_status
        return -info.si_status


def _kill_group_and_reap(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + _GROUP_DRAIN_SECONDS
    while time.monotonic() < deadline:
        _reap_children()
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _default_signals() -> None:
    """Undo ignored or blocked signals inherited from the engine: the agent must not get them."""
    for signum in signal.valid_signals():
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(signum, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _forward_term(agent_pgid: int) -> None:
    def handler(signum: int, _frame: object) -> None:
        try:
            os.killpg(agent_pgid, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, handler)


def _limit_resources(limits: dict[str, int]) -> None:
    """In the child before exec: the rlimits asked for (a soft == hard limit each)."""
    for name, value in limits.items():
        resource.setrlimit(_RLIMITS[name], (value, value))


def _child_setup(limits: dict[str, int], sandboxed: bool) -> None:
    _limit_resources(limits)
    if sandboxed:
        for signum in _MONITOR_IGNORES:
            signal.signal(signum, signal.SIG_IGN)


def _bwrap_options(sandbox: dict[str, Any], env: dict[str, str]) -> int:
    """A memfd holding bubblewrap's options and the agent's environment (`--args FD`):
    nothing of it shows on a command line."""
    words = [*sandbox["options"], "--clearenv"]
    for name, value in env.items():
        words += ["--setenv", name, value]
    fd = os.memfd_create("bwrap-args", 0)
    os.write(fd, b"".join(w.encode() + b"\0" for w in words))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _command(request: dict[str, Any]) -> tuple[list[str], dict[str, str], list[int]]:
    """The argv, environment and inherited fds that start the agent."""
    sandbox = request.get("sandbox")
    if not sandbox:
        return request["argv"], request["env"], []
    fd = _bwrap_options(sandbox, request["env"])
    argv = [sandbox["bwrap"], "--args", str(fd), "--", *sandbox["inner"], *request["argv"]]
    return argv, {"PATH": os.defpath, "LANG": "C.UTF-8"}, [fd]


def _enter_cgroup(request: dict[str, Any], logs: OutputLogs) -> tuple[list[Path], list[Path], bool]:
    """Put this process in the sandbox's cgroup (the agent inherits it); returns the
    group dirs, the dirs to go back to, and whether it is v2."""
    spec = request.get("cgroup")
    where = cgroup.layout() if spec else None
    if not spec or where is None:
        return [], [], False
    try:
        back = cgroup.current(where, os.getpid())
        dirs = cgroup.create(where, spec["name"], spec["memory"], spec["pids"])
        cgroup.enter(dirs, os.getpid())
    except (OSError, KeyError, ValueError) as exc:
        logs.put(1, f"agentdeck: memory and process limits not applied (cgroup: {exc})\n".encode())
        return [], [], False
    return dirs, back, where.v2


def _start_failed(run_dir: Path, logs: OutputLogs, program: str, why: object) -> int:
    logs.put(1, f"agentdeck: cannot start {program!r}: {why}\n".encode())
    logs.close()
    write_json_atomic(run_dir / EXIT_FILE, {"exit_code": 127, "reason": f"cannot start agent: {why}"})
    return 127


def _exit_code(status: int, sandboxed: bool) -> int:
    # bubblewrap exits 128+N when the agent inside was killed by signal N.
    if sandboxed and 128 < status < 128 + signal.NSIG:
        return -(status - 128)
    return status


def supervise(run_dir: Path, request: dict[str, Any]) -> int:
    """Run the request's agent to its end as the module docstring says; return its exit code."""
    _default_signals()
    _become_subreaper()
    me = process_identity(os.getpid())
    write_json_atomic(run_dir / PIDS_FILE, {"supervisor": me})
    logs = OutputLogs(run_dir, int(request.get("max_output_bytes") or MAX_OUTPUT_BYTES))
    argv, sandboxed = request["argv"], bool(request.get("sandbox"))
    if shutil.which(argv[0], path=request["env"].get("PATH", os.defpath)) is None:
        return _start_failed(run_dir, logs, argv[0], "no such program (looked on the agent's PATH)")
    groups, back, v2 = _enter_cgroup(request, logs)
    command, env, fds = _command(request)
    limits = request.get("limits") or {}
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        agent = subprocess.Popen(
            command, cwd=request["workdir"], env=env, stdin=subprocess.DEVNULL, stdout=out_w,
            stderr=err_w, process_group=0, close_fds=True, pass_fds=fds,
            preexec_fn=lambda: _child_setup(limits, sandboxed),
        )
    except OSError as exc:
        return _start_failed(run_dir, logs, argv[0], exc)
    finally:
        for fd in (out_w, err_w, *fds):
            os.close(fd)
        if back:
            cgroup.enter(back, os.getpid())
    _forward_term(agent.pid)
    write_json_atomic(run_dir / PIDS_FILE, {"supervisor": me, "agent": process_identity(agent.pid)})
    pump = OutputPump((out_r, err_r), logs, request.get("secrets") or [])
    pump.start()
    code = _exit_code(_wait_exit_status(agent.pid), sandboxed)
    # From here on the pgid may be reused once reaped: stop forwarding signals to it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_group_and_reap(agent.pid)
    agent.returncode = code  # already reaped above; keeps Popen from waiting again
    pump.finish(_PIPE_DRAIN_SECONDS)
    record: dict[str, Any] = {"exit_code": code, "finished_at": time.time()}
    if groups and cgroup.oom_killed(groups, v2):
        record["reason"] = f"out of memory: the agent hit its {request['cgroup']['memory_text']} limit"
    cgroup.remove(groups)
    write_json_atomic(run_dir / EXIT_FILE, record)
    return code


def main(args: list[str]) -> int:
    """Command-line entry: ``RUN_DIR``, the launch request on stdin."""
    if len(args) != 1:
        print("usage: python -m agentdeck.engine.runtimes.local.supervise RUN_DIR < request.json", file=sys.stderr)
        return 2
    request = json.load(sys.stdin.buffer)
    if os.fork():
        os._exit(0)  # the launcher is done: the supervisor below is detached from the engine
    supervise(Path(args[0]), request)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
