"""Memory and process limits of a local sandbox through a cgroup, where one is writable.

Used by the engine (to say in the task's log which limits hold) and by the supervisor (to
make the cgroup and put the sandbox in it). cgroup v1 (a ``memory`` and a ``pids``
hierarchy) and v2 (one unified tree with both controllers delegated) are understood;
anything else means: no cgroup, and the log says so. Only the stdlib is imported here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: Our parent group in each hierarchy.
PARENT = "agentdeck"
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([bkmg]?)", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes of a size such as ``512m`` or ``2g`` (the profile's ``memory`` field)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class Layout:
    """Where the memory and pids controllers of this machine are (equal for v2)."""

    memory: Path
    pids: Path
    v2: bool

    def dirs(self, name: str) -> list[Path]:
        """The group dirs of sandbox ``name`` (one for v2, one per controller for v1)."""
        return list(dict.fromkeys([self.memory / PARENT / name, self.pids / PARENT / name]))


def layout() -> Layout | None:
    """The writable cgroup layout, or None when no cgroup can be made here."""
    if (ROOT / "cgroup.controllers").exists():
        controllers = (ROOT / "cgroup.controllers").read_text().split()
        if {"memory", "pids"} <= set(controllers) and os.access(ROOT, os.W_OK):
            return Layout(ROOT, ROOT, v2=True)
        return None
    memory, pids = ROOT / "memory", ROOT / "pids"
    if all(p.is_dir() and os.access(p, os.W_OK) for p in (memory, pids)):
        return Layout(memory, pids, v2=False)
    return None


def create(where: Layout, name: str, memory: int, pids: int) -> list[Path]:
    """Make the groups of ``name`` with these limits; returns their dirs.

    Raises:
        OSError: the kernel refused (the caller reports it and runs without).
    """
    if where.v2:
        parent = where.memory / PARENT
        parent.mkdir(exist_ok=True)
        # Children of our parent may use both controllers (it holds no process itself).
        (where.memory / "cgroup.subtree_control").write_text("+memory +pids")
        (parent / "cgroup.subtree_control").write_text("+memory +pids")
    dirs = where.dirs(name)
    for group in dirs:
        group.mkdir(parents=True, exist_ok=True)
    if where.v2:
        (dirs[0] / "memory.max").write_text(str(memory))
        (dirs[0] / "memory.swap.max").write_text("0")
        (dirs[0] / "pids.max").write_text(str(pids))
    else:
        (where.memory / PARENT / name / "memory.limit_in_bytes").write_text(str(memory))
        (where.pids / PARENT / name / "pids.max").write_text(str(pids))
    return dirs


def enter(dirs: list[Path], pid: int) -> None:
    """Move process ``pid`` into ``dirs``."""
    for group in dirs:
        (group / "cgroup.procs").write_text(str(pid))


def current(where: Layout, pid: int) -> list[Path]:
    """The groups ``pid`` is in now, in the order of `Layout.dirs` (to move it back)."""
    paths: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") or [""]:
            paths[controller] = path
    if where.v2:
        return [where.memory / paths[""].lstrip("/")]
    return list(dict.fromkeys([where.memory / paths["memory"].lstrip("/"),
                               where.pids / paths["pids"].lstrip("/")]))


def oom_killed(dirs: list[Path], v2: bool) -> bool:
    """Whether the kernel's OOM killer ended a process of the group."""
    name = "memory.events" if v2 else "memory.oom_control"
    try:
        text = (dirs[0] / name).read_text()
    except OSError:
        return False
    counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    return int(counts.get("oom_kill", "0")) > 0


def remove(dirs: list[Path]) -> None:
    """Delete the (empty) groups; a group still busy is left for the next run to reuse."""
    for group in dirs:
        try:
            group.rmdir()
        except OSError:
            pass
