"""Host-side helpers of the local runtime: the agent's environment, launching the detached
supervisor, and reading what it recorded in the run dir (pids, exit code).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from engine.errors import InvalidInput, RuntimeUnavailable
from engine.runtimes.base import LaunchSpec, Outcome
from engine.runtimes.supervise import (
    EXIT_FILE, PIDS_FILE, STDERR_LOG, STDOUT_LOG, SUPERVISOR_LOG, read_json,
)

#: Host variables an agent gets; everything else must come from the spec's env.
_BASE_VARS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_RUN_FILES = (STDOUT_LOG, STDERR_LOG, PIDS_FILE, EXIT_FILE, SUPERVISOR_LOG,
              PIDS_FILE + ".tmp", EXIT_FILE + ".tmp")
#: Slack when comparing recorded and current process creation times (clock adjustments).
_CTIME_SLACK = 0.5


def agent_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal host environment (no host secrets leak in) plus ``extra``."""
    env = {name: os.environ[name] for name in _BASE_VARS if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("HOME", os.path.expanduser("~"))
    env.setdefault("LANG", "C.UTF-8")
    env["TERM"] = "dumb"
    env.update(extra)
    return env


def launch_supervisor(spec: LaunchSpec, run_dir: Path, python: str, timeout: float) -> None:
    """Start the detached supervisor of one agent (blocking: run it in a thread).

    The process we start reads the launch request from its stdin, forks the supervisor
    proper and exits at once, so the supervisor is nobody's child here: no zombie and
    no handle in this process, and it lives on when this process dies.

    Raises:
        RuntimeUnavailable: the supervisor could not be started; the message has its output.
    """
    request = json.dumps({"argv": list(spec.argv), "workdir": str(spec.workdir),
                          "env": agent_env(spec.env)}).encode()
    with open(run_dir / SUPERVISOR_LOG, "ab") as log:
        launcher = subprocess.Popen(
            [python, "-I", "-m", "engine.runtimes.supervise", str(run_dir)],
            stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
            env={"LANG": "C.UTF-8", "PATH": os.defpath},
        )
    try:
        launcher.communicate(request, timeout=timeout)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait()
        raise RuntimeUnavailable(
            f"the local agent supervisor did not start within {timeout:.0f} s (run dir {run_dir})") from None
    if launcher.returncode != 0:
        raise RuntimeUnavailable(
            f"the local agent supervisor failed (exit {launcher.returncode}): "
            f"{RunDir(run_dir).log_tail() or 'no output'} (see {run_dir})")


def is_alive(identity: dict[str, Any] | None) -> bool:
    """Whether the process recorded as ``{"pid", "ctime"}`` still runs (pid reuse aware)."""
    if not identity:
        return False
    try:
        proc = psutil.Process(identity["pid"])
        return (abs(proc.create_time() - identity["ctime"]) < _CTIME_SLACK
                and proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@dataclass(frozen=True)
class RunDir:
    """The files of one local sandbox."""

    path: Path

    def pids(self) -> dict[str, Any]:
        return read_json(self.path / PIDS_FILE) or {}

    def exit_outcome(self) -> Outcome | None:
        """The outcome the supervisor recorded, or None while the agent runs."""
        record = read_json(self.path / EXIT_FILE)
        if record is None:
            return None
        code = int(record["exit_code"])
        return Outcome(exit_code=code, reason=record.get("reason") or _signal_words(code))

    def prepare(self) -> None:
        """Create the dir, refusing one in use by a live agent, and clear old run files."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        supervisor = self.pids().get("supervisor")
        if is_alive(supervisor) and self.exit_outcome() is None:
            raise InvalidInput(
                f"run dir {self.path} belongs to a running agent (supervisor pid "
                f"{supervisor['pid']}): attach to it or stop it first")
        self.remove_files()

    def remove_files(self) -> None:
        """Delete the files the runtime made here (never anything else)."""
        for name in _RUN_FILES:
            (self.path / name).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the run files, and the dir itself if nothing else is in it."""
        self.remove_files()
        try:
            self.path.rmdir()
        except OSError:
            pass  # not empty (someone keeps files there) or already gone

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return (self.path / SUPERVISOR_LOG).read_text(errors="replace")[-limit:].strip()
        except FileNotFoundError:
            return ""


def _signal_words(code: int) -> str | None:
    if code >= 0:
        return None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"killed by {name}"
