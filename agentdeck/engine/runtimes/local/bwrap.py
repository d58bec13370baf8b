"""The bubblewrap sandbox of the local runtime: the ``bwrap`` command that confines one agent.

The mount tree is built from an allowlist on an empty root: the system dirs read-only
(`SYSTEM_DIRS`, the top-level ``/bin``-style links as they are on the host), the install
dirs of the agent's program and of its script interpreter read-only, the task's working
copy read-write at its own path, a private home at `SANDBOX_HOME` (the task's agent-home
dir, or an empty tmpfs), fresh ``/tmp``, ``/proc`` and ``/dev``. Nothing else of the host
exists inside: not the user's home, not agentdeck's data dir, not other tasks' copies.

Inside a user namespace the agent's uid is the engine's uid outside, so a file the engine
could read only as its owner or through its groups (``/etc/shadow`` when it runs as root)
would stay readable. Every entry of a bound system dir that is not world-readable is
therefore covered by an empty file or dir (`PrivateEntries`). Install dirs of the agent's
program and paths a profile declares are shown as they are.

New user, PID, IPC and UTS namespaces always, a network namespace unless the network is
``full``; the sandbox dies with its supervisor (``--die-with-parent``) and every process in
it dies with the agent (the PID namespace ends when its first process does).
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.models import AgentProfile

#: The agent's home inside the sandbox. Not under /tmp: some agents' own sandboxes
#: (Codex) refuse to set up their helpers under a temporary dir.
SANDBOX_HOME = "/home/agent"
#: Where agentdeck's own files appear inside (the egress forwarder and its socket dir).
SANDBOX_RUN = "/run/agentdeck"
#: Host dirs shown read-only when they exist.
SYSTEM_DIRS = ("/usr", "/etc", "/opt")
#: Top-level entries recreated as on the host: a link (merged /usr) or a read-only bind.
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Fixed: the egress forwarder's port on the sandbox's own loopback.
EGRESS_PORT = 3128
#: Inside: the forwarder script and the proxy socket (its dir is bound from the run dir).
FORWARDER = f"{SANDBOX_RUN}/forward.py"
EGRESS_SOCKET = f"{SANDBOX_RUN}/egress/proxy.sock"
_FORWARDER_SOURCE = Path(__file__).with_name("egress_forward.py")
#: How long the scan of a system dir other than /etc is trusted (it takes ~0.7 s for /usr).
SLOW_SCAN_TTL = 3600.0
#: /etc is where secrets live and change: it is scanned again after this many seconds.
ETC_SCAN_TTL = 5.0

INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"
OPT_OUT_HINT = 'or set sandbox = "none" in the agent profile to run it unconfined'
USERNS_HINT = ("enable unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
               "(Debian/Ubuntu) or sysctl -w user.max_user_namespaces=15000")


def network_of(profile: AgentProfile) -> str:
    """``none`` (no network), ``egress`` (only the profile's allowlist through the
    proxy) or ``full`` (the host's network), from ``network`` and ``options.egress``."""
    if not profile.network:
        return "none"
    return "egress" if profile.options.get("egress") is not None else "full"


def find_bwrap(path: str | None = None) -> str:
    """The absolute path of ``bwrap`` on ``path`` (default: this process's PATH).

    Raises:
        RuntimeUnavailable: it is not installed; the message names the fix.
    """
    found = shutil.which("bwrap", path=path)
    if found is None:
        raise RuntimeUnavailable(f"the local sandbox needs bubblewrap, which is not installed: "
                                 f"{INSTALL_HINT}, {OPT_OUT_HINT}")
    return found


_probed: set[str] = set()
_probe_lock = threading.Lock()


def probe_namespaces(bwrap: str) -> None:
    """Check once per ``bwrap`` that it can create the namespaces we use (blocking).

    Raises:
        RuntimeUnavailable: user namespaces are disabled (or bwrap fails); names the fix.
    """
    with _probe_lock:
        if bwrap in _probed:
            return
        done = subprocess.run(
            [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
             shutil.which("true") or "/bin/true"],  # by path: PATH may lack it (doctor's)
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            why = done.stderr.strip() or f"exit {done.returncode}"
            raise RuntimeUnavailable(f"bubblewrap cannot create a sandbox here ({why}): "
                                     f"{USERNS_HINT}, {OPT_OUT_HINT}")
        _probed.add(bwrap)


class PrivateEntries:
    """Entries of the system dirs that are not world-readable, found by walking them.

    /etc is walked again when its scan is older than `ETC_SCAN_TTL` (a few ms). The big
    dirs take seconds, so their scan is kept for `SLOW_SCAN_TTL` in memory and in
    ``cache_file`` (shared by the engine processes of this user; packages install
    world-readable files there, and a root-only file put into /usr is covered at the next
    scan).
    """

    def __init__(self, cache_file: Path | None = None) -> None:
        self._cache: dict[str, tuple[float, list[tuple[str, bool]]]] = {}
        self._lock = threading.Lock()
        self._file = cache_file

    def warm(self) -> None:
        """Scan the system dirs now, in a thread of its own, before the first sandbox."""
        def scan() -> None:
            for root in bound_roots(()):
                self.under(root)
        threading.Thread(target=scan, name="agentdeck-sandbox-scan", daemon=True).start()

    def under(self, root: str) -> list[tuple[str, bool]]:
        """``(path, is_dir)`` of every private entry below ``root`` (blocking)."""
        slow = root != "/etc"
        ttl = SLOW_SCAN_TTL if slow else ETC_SCAN_TTL
        with self._lock:
            if slow and root not in self._cache:
                self._cache.update(self._load())
            cached = self._cache.get(root)
            if cached is None or time.time() - cached[0] > ttl:
                found: list[tuple[str, bool]] = []
                _walk_private(root, found)
                cached = self._cache[root] = (time.time(), found)
                if slow:
                    self._save()
        return cached[1]

    def _load(self) -> dict[str, tuple[float, list[tuple[str, bool]]]]:
        try:
            raw = json.loads(self._file.read_text()) if self._file else {}
            return {root: (float(at), [(str(p), bool(d)) for p, d in entries])
                    for root, (at, entries) in raw.items()}
        except (OSError, ValueError, TypeError):
            return {}

    def _save(self) -> None:
        if self._file is None:
            return
        slow = {root: entry for root, entry in self._cache.items() if root != "/etc"}
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = self._file.with_name(self._file.name + f".{os.getpid()}")
            partial.write_text(json.dumps(slow))
            os.replace(partial, self._file)
        except OSError:
            pass  # only a cache: the next engine scans again


def default_cache_file() -> Path:
    """Where the scan of the big system dirs is kept for this user."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "agentdeck" / "sandbox-private-entries.json"


def _walk_private(top: str, found: list[tuple[str, bool]]) -> None:
    try:
        entries = os.scandir(top)
    except OSError:
        return
    with entries:
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                continue  # its target is judged where it lives
            if stat.S_ISDIR(mode):
                if mode & 0o005 != 0o005:
                    found.append((entry.path, True))
                else:
                    _walk_private(entry.path, found)
            elif not mode & 0o004:
                found.append((entry.path, False))


def install_roots(program: str, path: str) -> list[str]:
    """Host dirs the program ``program`` needs to run: its own install dir and that of
    its script interpreter (``#!/usr/bin/env node`` → node's), for both the name found on
    ``path`` and the file it links to (a venv's ``bin/python`` and the base Python)."""
    roots: list[str] = []
    for found in _program_files(program, path):
        roots.append(_install_dir(found))
        interpreter = _interpreter(found, path)
        if interpreter:
            roots += [_install_dir(f) for f in _program_files(interpreter, path)]
    return list(dict.fromkeys(roots))


def _program_files(program: str, path: str) -> list[str]:
    found = shutil.which(program, path=path) if "/" not in program else program
    if not found or not os.path.exists(found):
        return []
    found = os.path.abspath(found)
    return list(dict.fromkeys([found, os.path.realpath(found)]))


def _install_dir(file: str) -> str:
    """``/x/venv`` for ``/x/venv/bin/python`` (an install prefix); the file's own dir
    otherwise, and for a link in a shared bin dir (``~/.local/bin/aider``, whose prefix
    ``~/.local`` holds other programs' data) or in a top-level one (``/bin/sh``)."""
    parent = os.path.dirname(file)
    prefix = os.path.dirname(parent)
    if os.path.basename(parent) not in ("bin", "sbin") or prefix == "/":
        return parent
    if os.path.islink(file) and not os.path.exists(os.path.join(prefix, "pyvenv.cfg")):
        return parent
    return prefix


def _interpreter(file: str, path: str) -> str | None:
    try:
        with open(file, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        names = [w for w in words[1:] if not w.startswith("-")]
        return names[0] if names else None
    return words[0]


@dataclass(frozen=True)
class Plan:
    """What one confined agent gets; `argv` turns it into the bwrap command."""

    bwrap: str
    workdir: Path
    home: Path | None                  # bound read-write at SANDBOX_HOME; None: tmpfs
    network: str                       # none | egress | full
    read_only: tuple[str, ...] = ()    # extra host paths (install dirs, profile paths)
    covers: tuple[tuple[str, bool], ...] = ()
    blank_file: Path | None = None     # bound over private files (empty, 0444)
    blank_dir: Path | None = None      # bound over private dirs (empty, 0555)
    egress_dir: Path | None = None     # host dir of the proxy socket (network egress)
    forwarder: tuple[str, ...] = field(default=())  # command that runs the forwarder

    def options(self) -> list[str]:
        """bubblewrap's options (they go to it through a memfd, see the supervisor)."""
        args = ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--hostname", "agentdeck"]
        if self.network != "full":
            args.append("--unshare-net")
        # The fresh dirs first: a program installed under /tmp (a venv in a CI clone)
        # is bound onto them, not hidden by them.
        args += ["--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/var/tmp"]
        args += _system_mounts(self.read_only)
        args += self._cover_mounts()
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += _resolver_mounts(self.read_only)
        args += (["--bind", str(self.home), SANDBOX_HOME] if self.home
                 else ["--tmpfs", SANDBOX_HOME])
        if self.egress_dir is not None:
            args += ["--ro-bind", str(_FORWARDER_SOURCE), FORWARDER,
                     "--bind", str(self.egress_dir), os.path.dirname(EGRESS_SOCKET)]
        return args + ["--bind", str(self.workdir), str(self.workdir),
                       "--chdir", str(self.workdir)]

    def inner(self) -> list[str]:
        """What runs inside before the agent's own argv.

        The supervisor starts bwrap with SIGTERM & co. ignored so that bwrap's monitor
        survives a stop's SIGTERM (it would take the sandbox down with SIGKILL at once);
        ``env --default-signal`` gives the agent every signal back before it starts.
        """
        return ["env", "--default-signal", *self.forwarder]

    def _cover_mounts(self) -> list[str]:
        args: list[str] = []
        for path, is_dir in self.covers:
            blank = self.blank_dir if is_dir else self.blank_file
            args += ["--ro-bind", str(blank), path]
        return args


def _system_mounts(extra: tuple[str, ...]) -> list[str]:
    args: list[str] = []
    for top in TOP_LEVEL:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in (*SYSTEM_DIRS, *extra):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _resolver_mounts(extra: tuple[str, ...]) -> list[str]:
    """/etc/resolv.conf often links into /run (systemd-resolved), which is a fresh tmpfs
    inside: bind the file it points to."""
    target = os.path.realpath("/etc/resolv.conf")
    if covered(target, [*SYSTEM_DIRS, *extra]) or not os.path.isfile(target):
        return []
    return ["--ro-bind", target, target]


def bound_roots(extra: tuple[str, ...]) -> list[str]:
    """The host dirs a plan with ``extra`` read-only paths shows (for the private scan)."""
    tops = [t for t in TOP_LEVEL if os.path.isdir(t) and not os.path.islink(t)]
    return [p for p in (*SYSTEM_DIRS, *tops, *extra) if os.path.isdir(p)]


def covered(path: str, roots: list[str]) -> bool:
    """Whether ``path`` is inside one of ``roots`` already."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)
