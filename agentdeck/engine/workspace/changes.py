"""What changed between two commits, and which of those changes are unsafe to apply."""
from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator

from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.names import control_reason, name_warning
from agentdeck.engine.workspace.types import DiffResult, FileChange

_NO_DRIVERS = ("--no-ext-diff", "--no-textconv")
_SYMLINK, _GITLINK = "120000", "160000"
_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "T": "type_changed"}


def diff_result(git: Git, base: str, commit: str, counts: bool = True) -> DiffResult:
    """Compare ``base`` with ``commit`` in ``git``'s repository: statuses, line counts,
    modes, the reason each unsafe entry may not be applied and what else to look at twice.

    Args:
        counts: Count lines and tell binary files (git diffs every file's content for
            that); without, ``added``/``removed`` are 0 and ``binary`` False, which is
            all accept needs to check the paths it applies.
    """
    counts_by_path = _numstat(git, base, commit) if counts else {}
    raw = list(_raw(git, base, commit))
    targets = _symlink_targets(git, [new_sha for _, new_sha in raw if new_sha])
    files = []
    for change, new_sha in raw:
        added, removed, binary = counts_by_path.get(change.path, (0, 0, False))
        reason = unsafe_reason(change.path, change.new_mode, targets.get(new_sha or ""))
        if change.old_path and not reason:
            reason = unsafe_reason(change.old_path, None, None)
        warnings = filter(None, map(name_warning, {change.path, change.old_path} - {None}))
        files.append(FileChange(
            path=change.path, old_path=change.old_path, status=change.status, binary=binary,
            old_mode=change.old_mode, new_mode=change.new_mode, added=added, removed=removed,
            unsafe=reason, warning="; ".join(sorted(set(warnings))) or None))
    files.sort(key=lambda f: f.path)
    return DiffResult(
        commit=commit, base=base, files=tuple(files),
        added=sum(f.added for f in files), removed=sum(f.removed for f in files),
        unsafe=tuple(f.path for f in files if f.unsafe))


def _raw(git: Git, base: str, commit: str) -> Iterator[tuple[FileChange, str | None]]:
    records = git.iter_z("diff-tree", "-r", "-M", "-z", "--raw", *_NO_DRIVERS, base, commit)
    for header in records:
        old_mode, new_mode, old_sha, new_sha, code = header.lstrip(":").split(" ")
        old_path = next(records) if code[0] == "R" else None
        path = next(records)
        status = _STATUS.get(code[0], "modified")
        if status == "modified" and old_sha == new_sha:
            status = "mode_changed"
        yield FileChange(
            path=path, old_path=old_path, status=status,
            old_mode=None if old_mode == "000000" else old_mode,
            new_mode=None if new_mode == "000000" else new_mode,
        ), (new_sha if new_mode == _SYMLINK else None)


def _numstat(git: Git, base: str, commit: str) -> dict[str, tuple[int, int, bool]]:
    out: dict[str, tuple[int, int, bool]] = {}
    records = git.iter_z("diff-tree", "-r", "-M", "-z", "--numstat", *_NO_DRIVERS, base, commit)
    for record in records:
        added, removed, path = record.split("\t", 2)
        if not path:  # a rename: old and new path follow as their own records
            next(records)
            path = next(records)
        binary = added == "-"
        out[path] = (0, 0, True) if binary else (int(added), int(removed), False)
    return out


def _symlink_targets(git: Git, shas: list[str]) -> dict[str, str]:
    """The target of each symlink blob, read in one ``cat-file --batch``."""
    if not shas:
        return {}
    data = git.run("cat-file", "--batch", input="".join(s + "\n" for s in shas).encode()).stdout
    targets: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        sha, _kind, size = data[pos:end].decode().split(" ")
        start = end + 1
        targets[sha] = os.fsdecode(data[start:start + int(size)])
        pos = start + int(size) + 1
    return targets


def unsafe_reason(path: str, mode: str | None, link_target: str | None) -> str | None:
    """Why writing ``path`` (with git ``mode``; a symlink to ``link_target``) into the
    user's repo would be unsafe, or ``None`` when it is fine."""
    parts = path.split("/")
    if path.startswith("/") or "" in parts:
        return "path is absolute or has an empty component"
    if ".." in parts or "." in parts:
        return "path contains '..' or '.' components"
    if any(_is_dotgit(p) for p in parts):
        return "path is inside a .git folder"
    if reason := control_reason(path):
        return reason
    if mode == _GITLINK:
        return "nested git repository (gitlink)"
    if mode == _SYMLINK and link_target is not None:
        return _symlink_reason(path, link_target)
    return None


def _symlink_reason(path: str, target: str) -> str | None:
    if target.startswith("/"):
        return f"symlink to the absolute path {target!r}"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        return f"symlink pointing outside the repository ({target!r})"
    if any(_is_dotgit(p) for p in resolved.split("/")):
        return f"symlink pointing into .git ({target!r})"
    return None


def _is_dotgit(name: str) -> bool:
    # Windows and macOS file systems ignore case and trailing dots/spaces: ".GIT." is .git.
    return name.lower().rstrip(". ") == ".git"
