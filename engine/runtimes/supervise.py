"""The detached supervisor of one local agent process, and the files it leaves in the run dir.

Started by the local runtime as ``python -I -m engine.runtimes.supervise RUN_DIR`` in a
session of its own. It reads the launch request ``{"argv": [...], "workdir": "...",
"env": {...}}`` as JSON from stdin and forks: the parent exits at once (the runtime waits
for that), the child is the supervisor, reparented away from the engine so that it and
the agent outlive the engine process. The supervisor:

1. records its own pid (``pids``), then starts the agent in a new process group in WORKDIR
   with stdout and stderr appended straight to ``stdout.log`` / ``stderr.log`` (no pipe
   through the engine, which tails the files) and records the agent's pid (= pgid);
2. waits for the agent, kills whatever is left of its process group (like a container
   whose init exited) and writes the exit code (negative: killed by that signal)
   atomically to ``exit``.

The agent's environment travels through that pipe, so no secret lands on disk or on a
command line, and nothing meant for the agent (LD_PRELOAD, ...) applies to the supervisor.
Only the stdlib and psutil are imported here.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
PIDS_FILE = "pids"
EXIT_FILE = "exit"
SUPERVISOR_LOG = "supervisor.log"

#: How long leftover members of the agent's group may take to die after SIGKILL.
_GROUP_DRAIN_SECONDS = 2.0
_PR_SET_CHILD_SUBREAPER = 36


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


def supervise(run_dir: Path, workdir: Path, argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` to its end as described in the module docstring; return its exit code."""
    _default_signals()
    _become_subreaper()
    me = process_identity(os.getpid())
    write_json_atomic(run_dir / PIDS_FILE, {"supervisor": me})
    out, err = _open_log(run_dir, STDOUT_LOG), _open_log(run_dir, STDERR_LOG)
    try:
        agent = subprocess.Popen(
            argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            process_group=0, close_fds=True,
        )
    except OSError as exc:
        os.write(err, f"agentdeck: cannot start {argv[0]!r}: {exc}\n".encode())
        write_json_atomic(run_dir / EXIT_FILE, {"exit_code": 127, "reason": f"cannot start agent: {exc}"})
        return 127
    finally:
        os.close(out)
        os.close(err)
    _forward_term(agent.pid)
    write_json_atomic(run_dir / PIDS_FILE, {"supervisor": me, "agent": process_identity(agent.pid)})
    code = _wait_exit_status(agent.pid)
    # From here on the pgid may be reused once reaped: stop forwarding signals to it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_group_and_reap(agent.pid)
    agent.returncode = code  # already reaped above; keeps Popen from waiting again
    write_json_atomic(run_dir / EXIT_FILE, {"exit_code": code, "finished_at": time.time()})
    return code


def main(args: list[str]) -> int:
    """Command-line entry: ``RUN_DIR``, the launch request on stdin."""
    if len(args) != 1:
        print("usage: python -m engine.runtimes.supervise RUN_DIR < request.json", file=sys.stderr)
        return 2
    request = json.load(sys.stdin.buffer)
    if os.fork():
        os._exit(0)  # the launcher is done: the supervisor below is detached from the engine
    supervise(Path(args[0]), Path(request["workdir"]), request["argv"], request["env"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
