"""Which paths of a task container's /work changed, without asking about each one.

A container started from a base layer (`agentdeck.engine.runtimes.docker.baselayer`)
holds in its writable layer only what the agent changed. On a daemon of this machine
(overlay2) that layer is a folder here (``GraphDriver.Data.UpperDir``): walking it costs
microseconds per entry, where the changes API (``docker diff``) costs about 0.7 ms per
entry. Elsewhere the changes API is the fallback. Either way the walk goes folder by
folder and never enters what the base's ignore rules exclude (an ``npm install`` is one
entry, not 30 000), never the top-level ``.git``, and notes removed paths: overlayfs
whiteouts (a 0/0 character device) and opaque folders (removed, then made again).
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdeck.engine.runtimes.base import IgnoreRules

_OPAQUE = "trusted.overlay.opaque"


@dataclass(frozen=True)
class Entry:
    """One entry of a changed folder: ``kind`` is ``dir``, ``file``, ``removed`` or
    ``other`` (fifo, socket, device: not content git can hold)."""

    name: str
    kind: str
    size: int = 0                    # a file's bytes (a symlink's target length)
    key: tuple[int, int] | None = None  # (dev, ino): hard links counted once
    opaque: bool = False             # a folder removed and made again


@dataclass
class ChangeSet:
    """The changed paths that would enter the diff."""

    files: list[str] = field(default_factory=list)   # files and symlinks, in walk order
    removed: list[str] = field(default_factory=list)  # base paths gone (folders: all below)
    size: int = 0                                     # their bytes, hard links once

    def entries(self) -> int:
        return len(self.files) + len(self.removed)


Lister = Callable[[str], list[Entry]]


def walk_changes(listdir: Lister, rules: IgnoreRules) -> ChangeSet:
    """Walk the changed folders top-down from ``""``, leaving out ignored entries."""
    changes = ChangeSet()
    seen: set[tuple[int, int]] = set()
    folders = [""]
    while folders:
        prefix = folders.pop()
        listing = [e for e in listdir(prefix) if not (prefix == "" and e.name == ".git")]
        skip = rules.ignored(prefix, [(e.name, e.kind == "dir") for e in listing
                                      if e.kind != "removed"])
        for entry in listing:
            path = prefix + entry.name
            if entry.kind == "removed":
                if rules.tracked(path):
                    changes.removed.append(path)
            elif entry.name in skip or entry.kind == "other":
                continue
            elif entry.kind == "dir":
                if entry.opaque and rules.tracked(path):
                    changes.removed.append(path)
                folders.append(path + "/")
            else:
                changes.files.append(path)
                if entry.key is None or entry.key not in seen:
                    changes.size += entry.size
                if entry.key is not None:
                    seen.add(entry.key)
    return changes


def upper_dir(container: Any) -> Path | None:
    """The container's /work in its writable layer, when that is a folder of this machine."""
    driver = container.attrs.get("GraphDriver") or {}
    upper = (driver.get("Data") or {}).get("UpperDir")
    if driver.get("Name") not in ("overlay2", "overlay") or not upper:
        return None
    root = Path(upper)
    return root / "work" if root.is_dir() and os.access(root, os.R_OK | os.X_OK) else None


def upper_lister(work: Path) -> Lister:
    """List a folder of the writable layer (no-follow; missing: nothing changed there)."""
    def listdir(prefix: str) -> list[Entry]:
        try:
            found = list(os.scandir(work / prefix)) if prefix or work.is_dir() else []
        except FileNotFoundError:
            return []
        return [_entry(e) for e in found]
    return listdir


def _entry(entry: os.DirEntry[str]) -> Entry:
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return Entry(entry.name, "removed")
    if stat.S_ISDIR(st.st_mode):
        return Entry(entry.name, "dir", opaque=_is_opaque(entry.path))
    if stat.S_ISREG(st.st_mode):
        return Entry(entry.name, "file", st.st_size, (st.st_dev, st.st_ino))
    if stat.S_ISLNK(st.st_mode):
        return Entry(entry.name, "file", st.st_size)
    return Entry(entry.name, "other")


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def diff_lister(container: Any, workdir: str = "/work") -> Lister:
    """List changed folders from the changes API (slow per entry: the fallback).

    It names paths, not types: a path with changed paths below it is a folder; a
    folder the agent made empty comes back as a file entry and is fetched as what it is.
    """
    top = workdir.rstrip("/") + "/"
    kinds: dict[str, int] = {}
    for change in container.diff() or []:
        path = change["Path"]
        if path.startswith(top):
            kinds[path[len(top):]] = int(change["Kind"])
    children: dict[str, set[str]] = {}
    for path in kinds:
        parent, _, name = path.rpartition("/")
        children.setdefault(parent + "/" if parent else "", set()).add(name)

    def listdir(prefix: str) -> list[Entry]:
        entries = []
        for name in sorted(children.get(prefix, ())):
            path = prefix + name
            kind = ("removed" if kinds[path] == 2 else
                    "dir" if path + "/" in children else "file")
            entries.append(Entry(name, kind))
        return entries
    return listdir
