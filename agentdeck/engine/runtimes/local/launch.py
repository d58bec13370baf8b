"""Host-side helpers of the local runtime: the launch request (the agent's environment and
its bubblewrap sandbox), launching the detached supervisor, and reading what it recorded in
the run dir (pids, exit code).
"""
from __future__ import annotations

import fcntl
import getpass
import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from agentdeck.engine.config.resources import package_root
from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.runtimes.local import bwrap
from agentdeck.engine.runtimes.local import cgroup
from agentdeck.engine.runtimes.local.frozen import python_command
from agentdeck.engine.runtimes.base import LaunchSpec, Outcome
from agentdeck.engine.runtimes.local.order_log import ORDER_LOG
from agentdeck.engine.runtimes.local.supervise import (
    EXIT_FILE, LOCK_FILE, PIDS_FILE, STDERR_LOG, STDOUT_LOG, SUPERVISOR_LOG, read_json,
)

#: Host variables an agent gets; everything else must come from the spec's env.
_BASE_VARS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")
BLANK_FILE, BLANK_DIR = "blank-file", "blank-dir"
_RUN_FILES = (STDOUT_LOG, STDERR_LOG, ORDER_LOG, PIDS_FILE, EXIT_FILE, SUPERVISOR_LOG, LOCK_FILE,
              PIDS_FILE + ".tmp", EXIT_FILE + ".tmp", BLANK_FILE)
#: Slack when comparing recorded and current process creation times (clock adjustments).
_CTIME_SLACK = 0.5
#: Limits of every confined agent besides the profile's memory and pids: the largest
#: file it may write, and CPU seconds per process.
FILE_SIZE_LIMIT = 16 << 30
CPU_SECONDS_LIMIT = 24 * 3600
#: What `home_files` may copy into the agent's home per attempt.
HOME_FILES_MAX_BYTES = 64 << 20
#: How long a supervisor that recorded its agent's end may take to exit.
SUPERVISOR_EXIT_GRACE = 5.0
#: The supervisor's boot line. It runs with ``-I`` (no PYTHONPATH) and imports agentdeck from
#: where this process did (`package_root`: a checkout or site-packages), not whatever install
#: the interpreter prefers: the code that reads the run dir is the code that wrote it.
_BOOT = ("import runpy, sys; root = sys.argv.pop(1); "
         "root in sys.path or sys.path.insert(0, root); "
         "runpy.run_module('agentdeck.engine.runtimes.local.supervise', run_name='__main__', alter_sys=True)")


def agent_env(extra: dict[str, str]) -> dict[str, str]:
    """A minimal host environment (no host secrets leak in) plus ``extra``."""
    env = {name: os.environ[name] for name in _BASE_VARS if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.setdefault("HOME", os.path.expanduser("~"))
    env.setdefault("LANG", "C.UTF-8")
    env["TERM"] = "dumb"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Request:
    """What the supervisor is told (as JSON on its stdin), and the lines the task's log
    gets about how the agent is confined."""

    body: dict[str, Any]
    notes: tuple[str, ...]


def build_request(spec: LaunchSpec, run_dir: Path, private: bwrap.PrivateEntries,
                  max_output: int, egress_dir: Path | None = None) -> Request:
    """The launch request of ``spec`` (blocking: it may scan system dirs).

    Args:
        spec: the attempt.
        run_dir: its run dir (the blanks bound over private entries live there).
        private: the cache of non-world-readable system entries to cover.
        max_output: bytes kept per output stream.
        egress_dir: the host dir holding the egress proxy socket (network ``egress``).

    Raises:
        RuntimeUnavailable: bubblewrap is missing or cannot make namespaces (names the fix).
    """
    profile = spec.profile
    secrets = [spec.env[n] for n in profile.secrets if spec.env.get(n)]
    body: dict[str, Any] = {"argv": list(spec.argv), "workdir": str(spec.workdir),
                            "secrets": secrets, "max_output_bytes": max_output}
    if profile.sandbox == "none":
        body["env"] = agent_env(spec.env)
        user = getpass.getuser()
        return Request(body, (f'sandbox: none (the profile sets sandbox = "none"): the agent runs '
                              f"unconfined as {user}, with your home, files and network",))
    env = {**agent_env(spec.env), "HOME": bwrap.SANDBOX_HOME, "TMPDIR": "/tmp"}
    network = bwrap.network_of(profile)
    if network == "egress":
        env.update(_proxy_env())
    plan = _plan(spec, run_dir, env["PATH"], private, network, egress_dir)
    body.update(env=env, sandbox={"bwrap": plan.bwrap, "options": plan.options(),
                                  "inner": plan.inner()})
    limits, limit_words = _limits(spec)
    body.update(limits)
    notes = [f"sandbox: bubblewrap (user, pid, ipc, uts, mount namespaces; network {network}): "
             f"working copy read-write, system read-only, private home {bwrap.SANDBOX_HOME}; "
             f"{limit_words}"]
    notes += copy_home_files(Path(os.path.expanduser("~")), spec.state_dir, profile.home_files)
    return Request(body, tuple(notes))


def tool_wrapper(spec: LaunchSpec, run_dir: Path,
                 private: bwrap.PrivateEntries) -> tuple[list[str], str]:
    """The command prefix that confines the built-in agent's tool commands on this
    machine (blocking: it may scan system dirs), and the log line saying how.

    The agent loop runs in the engine (it holds the API key); only the commands the model
    asks for run, each in a sandbox of its own like a CLI agent's: the working copy
    read-write, no home, no network unless the profile's is ``full`` (the model API is
    called by the engine, so an egress allowlist needs no way out from the tools).

    Raises:
        RuntimeUnavailable: bubblewrap is missing or cannot make namespaces (names the fix).
    """
    if spec.profile.sandbox == "none":
        return [], (f'sandbox: none (the profile sets sandbox = "none"): tool commands run '
                    f"unconfined as {getpass.getuser()}")
    network = "full" if bwrap.network_of(spec.profile) == "full" else "none"
    shell = replace(spec, argv=("sh",), state_dir=None)
    plan = _plan(shell, run_dir, agent_env({})["PATH"], private, network, None)
    prefix = [plan.bwrap, *plan.options(), "--", *plan.inner()]
    return prefix, (f"sandbox: bubblewrap for every tool command (user, pid, ipc, uts, mount "
                    f"namespaces; network {network}): working copy read-write, system "
                    f"read-only, empty home")


def _proxy_env() -> dict[str, str]:
    url = f"http://127.0.0.1:{bwrap.EGRESS_PORT}"
    env = {var: url for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    return {**env, "NO_PROXY": "", "no_proxy": ""}


def _plan(spec: LaunchSpec, run_dir: Path, path: str, private: bwrap.PrivateEntries, network: str,
          egress_dir: Path | None) -> bwrap.Plan:
    found, covers, blank_file, blank_dir = walls(run_dir, private)
    base = bwrap.bound_roots(())
    extra = [root for root in bwrap.install_roots(spec.argv[0], path)
             if not bwrap.covered(root, base)]
    extra += [p for p in spec.profile.read_only_paths if os.path.exists(p)]
    extra += [os.fspath(p) for p in spec.shared_dirs if os.path.isdir(p)]
    forwarder: tuple[str, ...] = ()
    if network == "egress":
        python = os.path.realpath(sys.executable)
        extra += [r for r in bwrap.install_roots(python, path) if not bwrap.covered(r, base)]
        forwarder = (*python_command(python), "-I", "-S", bwrap.FORWARDER,
                     str(bwrap.EGRESS_PORT), bwrap.EGRESS_SOCKET, "--")
    extra = list(dict.fromkeys(extra))
    return bwrap.Plan(found, Path(spec.workdir), spec.state_dir, network, tuple(extra),
                      covers, blank_file, blank_dir, egress_dir, forwarder)


def walls(run_dir: Path, private: bwrap.PrivateEntries
          ) -> tuple[str, tuple[tuple[str, bool], ...], Path, Path]:
    """What every confined command shares: bubblewrap (found and probed), the private
    entries of the system dirs to cover and the blanks covering them (in ``run_dir``).

    The system dirs are scanned; install dirs and declared paths are shown as they are
    (a Python or Node install holds no secrets, and walking one can take many seconds).

    Raises:
        RuntimeUnavailable: bubblewrap is missing or cannot make namespaces.
    """
    found = bwrap.find_bwrap()
    bwrap.probe_namespaces(found)
    covers = tuple(entry for root in bwrap.bound_roots(()) for entry in private.under(root))
    blank_file, blank_dir = _blanks(run_dir)
    return found, covers, blank_file, blank_dir


def _blanks(run_dir: Path) -> tuple[Path, Path]:
    """An empty read-only file and dir, bound over the private entries."""
    blank_file, blank_dir = run_dir / BLANK_FILE, run_dir / BLANK_DIR
    if not blank_file.exists():
        blank_file.touch(mode=0o444)
    blank_dir.mkdir(mode=0o555, exist_ok=True)
    return blank_file, blank_dir


def _limits(spec: LaunchSpec) -> tuple[dict[str, Any], str]:
    """The rlimits and cgroup of the request, and how the task's log describes them."""
    profile = spec.profile
    limits: dict[str, int] = {"fsize": FILE_SIZE_LIMIT, "cpu": CPU_SECONDS_LIMIT}
    common = (f"file size {FILE_SIZE_LIMIT >> 30} GiB, CPU time {CPU_SECONDS_LIMIT // 3600} h "
              f"per process")
    if cgroup.layout() is not None:
        group = {"name": f"{spec.task_id}-{spec.attempt}", "memory": cgroup.parse_size(profile.memory),
                 "memory_text": profile.memory, "pids": profile.pids}
        words = f"memory {profile.memory} and {profile.pids} processes (cgroup), {common}"
        return {"limits": limits, "cgroup": group}, words
    limits["nproc"] = profile.pids
    words = (f"{profile.pids} processes (rlimit), {common}; memory not limited (no writable "
             f"cgroup here; an address-space limit would break Node.js agents)")
    return {"limits": limits}, words


def copy_home_files(user_home: Path, home: Path | None, names: tuple[str, ...]) -> list[str]:
    """Copy the profile's ``home_files`` from the user's home into the agent's; the log
    lines saying what was copied or skipped.

    The agent's home is agent-written (an earlier attempt may have planted links), so every
    component there is opened without following links, and links in the way are removed.
    """
    if not names:
        return []
    if home is None:
        return [f"home_files not copied: this attempt has no agent home dir ({', '.join(names)})"]
    copied, missing, budget = [], [], [HOME_FILES_MAX_BYTES]
    for name in names:
        source = user_home / name
        if not source.exists():
            missing.append(name)
            continue
        root = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            _copy_into(source, root, Path(name).parts, budget)
        finally:
            os.close(root)
        copied.append(name)
    lines = [f"home: copied {', '.join(copied)} from your home"] if copied else []
    if missing:
        lines.append(f"home: not in your home, not copied: {', '.join(missing)}")
    return lines


def _copy_into(source: Path, dir_fd: int, parts: tuple[str, ...], budget: list[int]) -> None:
    """Copy ``source`` (a file or a dir of files) to ``parts`` below ``dir_fd``, no-follow."""
    *dirs, leaf = parts
    fd = dir_fd
    opened: list[int] = []
    try:
        for part in dirs:
            fd = _subdir(fd, part)
            opened.append(fd)
        if source.is_dir():
            sub = _subdir(fd, leaf)
            opened.append(sub)
            for child in sorted(source.iterdir()):
                if child.is_file() or child.is_dir():
                    _copy_into(child, sub, (child.name,), budget)
            return
        data = source.read_bytes()
        budget[0] -= len(data)
        if budget[0] < 0:
            raise RuntimeUnavailable(f"home_files copy more than {HOME_FILES_MAX_BYTES >> 20} MiB "
                                     f"(at {source}): list only the files the agent needs")
        _unlink_link(fd, leaf)
        out = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
    finally:
        for each in opened:
            os.close(each)


def _subdir(dir_fd: int, name: str) -> int:
    _unlink_link(dir_fd, name)
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        pass
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def _unlink_link(dir_fd: int, name: str) -> None:
    """Remove ``name`` if it is a symlink (or anything but a dir or file) of the agent's."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        os.unlink(name, dir_fd=dir_fd)


def launch_supervisor(request: dict[str, Any], run_dir: Path, python: str, timeout: float) -> None:
    """Start the detached supervisor of one agent (blocking: run it in a thread).

    The process we start reads the launch request from its stdin, forks the supervisor
    proper and exits at once, so the supervisor is nobody's child here: no zombie and
    no handle in this process, and it lives on when this process dies. Both hold the run
    dir's lock from the start (see `LOCK_FILE`).

    Raises:
        InvalidInput: another supervisor holds the run dir.
        RuntimeUnavailable: the supervisor could not be started; the message has its output.
    """
    data = json.dumps(request).encode()
    lock = RunDir(run_dir).claim()
    try:
        with open(run_dir / SUPERVISOR_LOG, "ab", opener=_private_opener) as log:
            launcher = subprocess.Popen(
                [*python_command(python), "-I", "-c", _BOOT, str(package_root()), str(run_dir)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
                env={"LANG": "C.UTF-8", "PATH": os.defpath}, pass_fds=(lock,),
            )
    finally:
        os.close(lock)  # the launcher holds it now (or nobody, if it did not start)
    try:
        launcher.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait()
        raise RuntimeUnavailable(
            f"the local agent supervisor did not start within {timeout:.0f} s (run dir {run_dir})") from None
    if launcher.returncode != 0:
        raise RuntimeUnavailable(
            f"the local agent supervisor failed (exit {launcher.returncode}): "
            f"{RunDir(run_dir).log_tail() or 'no output'} (see {run_dir})")


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)  # a log agentdeck writes: its user's eyes only


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
        if not self._free(SUPERVISOR_EXIT_GRACE):
            raise self._in_use()
        self.remove_files()

    def _free(self, grace: float) -> bool:
        """Whether no live agent holds the dir. A supervisor that has recorded its agent's
        end still holds the lock while it exits: it is given ``grace`` seconds."""
        deadline = time.monotonic() + grace
        while True:
            ended = self.exit_outcome() is not None
            if not self.busy() and (ended or not is_alive(self.pids().get("supervisor"))):
                return True
            if not ended or time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def claim(self) -> int:
        """Lock the run dir for a supervisor about to be launched; the locked descriptor.

        Raises:
            InvalidInput: a launcher or supervisor holds it.
        """
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._in_use() from None
        return fd

    def busy(self) -> bool:
        """Whether a launcher or supervisor still holds the run dir (see `LOCK_FILE`)."""
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            # Shared: two engines looking at once do not see each other as the holder.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def launched(self, timeout: float) -> bool:
        """Whether a supervisor launched here started the agent (or recorded how it ended).

        An engine killed while launching one did not record it; this is how the next one
        finds it. A launch still under way is waited for, up to ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            busy = self.busy()  # before the files: once nobody holds the lock, they are final
            pids = self.pids()
            if pids.get("agent") or self.exit_outcome() is not None:
                return True
            if not busy:
                return False  # never launched, or the supervisor died before the agent ran
            if time.monotonic() > deadline:
                return bool(pids)
            time.sleep(0.01)

    def _in_use(self) -> InvalidInput:
        supervisor = self.pids().get("supervisor") or {}
        return InvalidInput(
            f"run dir {self.path} belongs to a running agent (supervisor pid "
            f"{supervisor.get('pid', 'not recorded yet')}): attach to it or stop it first")

    def remove_files(self) -> None:
        """Delete the files the runtime made here (never anything else)."""
        for name in _RUN_FILES:
            (self.path / name).unlink(missing_ok=True)
        (self.path / "egress" / "proxy.sock").unlink(missing_ok=True)
        for name in (BLANK_DIR, "egress"):
            try:
                (self.path / name).rmdir()
            except FileNotFoundError:
                pass

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
