"""The detached supervisor of one local agent process, and the files it leaves in the run dir.

Started by the local runtime as ``python -I -m engine.runtimes.supervise RUN_DIR`` in a
session of its own. It reads the launch request (`Request` as JSON) from stdin and forks:
the parent exits at once (the runtime waits for that), the child is the supervisor,
reparented away from the engine so that it and the agent outlive the engine process. The
supervisor:

1. records its own pid (``pids``), then starts the agent in a new process group in WORKDIR
   — inside bubblewrap when the request has a sandbox, in the memory/pids cgroup when it
   has one, with the rlimits it names — and records the agent's pid (= pgid);
2. reads the agent's stdout and stderr from pipes and writes them, secrets masked
   (`engine.masking.StreamMasker`) and each stream capped at ``max_output_bytes``, to
   ``stdout.log`` / ``stderr.log`` (0600), which the engine tails. Past the cap it keeps
   draining the pipe (the agent never blocks) and ends the file with one marker line;
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
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from engine.masking import StreamMasker
from engine.runtimes import cgroup

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
PIDS_FILE = "pids"
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


class OutputPump(threading.Thread):
    """Copies one pipe of the agent into its log: masked, capped, never blocking the agent."""

    def __init__(self, pipe: int, log: int, masker: StreamMasker, cap: int) -> None:
        super().__init__(daemon=True, name=f"pump-{pipe}")
        self._pipe, self._log, self._masker, self._cap = pipe, log, masker, cap
        self._written = 0
        self._dropped = 0
        self._last = b"\n"

    def run(self) -> None:
        try:
            while data := os.read(self._pipe, _READ):
                self._write(self._masker.feed(data))
        except OSError:
            pass  # the pipe was closed under us (see `finish`)
        self._write(self._masker.flush())
        if self._dropped:
            lead = b"" if self._last == b"\n" else b"\n"
            os.write(self._log, lead + truncation_marker(self._dropped))

    def _write(self, data: bytes) -> None:
        room = max(0, self._cap - self._written)
        kept, self._dropped = data[:room], self._dropped + max(0, len(data) - room)
        if kept:
            os.write(self._log, kept)
            self._written += len(kept)
            self._last = kept[-1:]

    def finish(self, timeout: float) -> None:
        """Wait for the end of the pipe; past ``timeout`` stop reading it (whoever still
        holds its write end outlived the agent's group)."""
        self.join(timeout)
        if self.is_alive():
            os.close(self._pipe)  # the read in `run` fails; what it had is written
            self.join(1.0)


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


def _enter_cgroup(request: dict[str, Any], err: int) -> tuple[list[Path], list[Path], bool]:
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
        os.write(err, f"agentdeck: memory and process limits not applied (cgroup: {exc})\n".encode())
        return [], [], False
    return dirs, back, where.v2


def _start_failed(run_dir: Path, err: int, program: str, why: object) -> int:
    os.write(err, f"agentdeck: cannot start {program!r}: {why}\n".encode())
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
    out, err = _open_log(run_dir, STDOUT_LOG), _open_log(run_dir, STDERR_LOG)
    argv, sandboxed = request["argv"], bool(request.get("sandbox"))
    if shutil.which(argv[0], path=request["env"].get("PATH", os.defpath)) is None:
        return _start_failed(run_dir, err, argv[0], "no such program (looked on the agent's PATH)")
    groups, back, v2 = _enter_cgroup(request, err)
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
        return _start_failed(run_dir, err, argv[0], exc)
    finally:
        for fd in (out_w, err_w, *fds):
            os.close(fd)
        if back:
            cgroup.enter(back, os.getpid())
    _forward_term(agent.pid)
    write_json_atomic(run_dir / PIDS_FILE, {"supervisor": me, "agent": process_identity(agent.pid)})
    masker_of = lambda: StreamMasker(request.get("secrets") or ())  # noqa: E731 - one per stream
    cap = int(request.get("max_output_bytes") or MAX_OUTPUT_BYTES)
    pumps = [OutputPump(out_r, out, masker_of(), cap), OutputPump(err_r, err, masker_of(), cap)]
    for pump in pumps:
        pump.start()
    code = _exit_code(_wait_exit_status(agent.pid), sandboxed)
    # From here on the pgid may be reused once reaped: stop forwarding signals to it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_group_and_reap(agent.pid)
    agent.returncode = code  # already reaped above; keeps Popen from waiting again
    for pump in pumps:
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
        print("usage: python -m engine.runtimes.supervise RUN_DIR < request.json", file=sys.stderr)
        return 2
    request = json.load(sys.stdin.buffer)
    if os.fork():
        os._exit(0)  # the launcher is done: the supervisor below is detached from the engine
    supervise(Path(args[0]), request)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
