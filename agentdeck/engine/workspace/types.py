"""What the workspace hands back: a repository's state and the changes an agent made."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RepoInfo:
    """The state of a user's repository.

    Attributes:
        path: The top level of its working tree (real path).
        branch: The checked-out branch, ``None`` when HEAD is detached.
        head: The commit HEAD points to.
        dirty: True when tracked files changed or untracked, non-ignored files exist.
    """

    path: Path
    branch: str | None
    head: str
    dirty: bool


@dataclass(frozen=True)
class FileChange:
    """One changed path between a base and a result commit.

    Attributes:
        path: The path after the change (the old path for deletions).
        old_path: The path before a rename, else ``None``.
        status: ``added``, ``modified``, ``deleted``, ``renamed``, ``mode_changed`` (only
            the file mode changed) or ``type_changed`` (file <-> symlink).
        binary: Git considers the content binary; ``added``/``removed`` are then 0.
        old_mode: Octal git mode before (``"100644"``), ``None`` when added.
        new_mode: Octal git mode after, ``None`` when deleted.
        added: Lines added.
        removed: Lines removed.
        unsafe: Why this change may not be applied to the user's repo, else ``None``.
        warning: What a reviewer should look at twice although it may be applied (a
            change to ``.gitattributes`` / ``.gitmodules``, a name that is not valid
            UTF-8 or starts with ``-``), else ``None``.
    """

    path: str
    old_path: str | None
    status: str
    binary: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    added: int = 0
    removed: int = 0
    unsafe: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class DiffResult:
    """Everything an agent changed, as a commit on top of ``base``.

    Attributes:
        commit: The result commit (kept under ``refs/agentdeck/result/<task>``).
        base: The commit the agent started from.
        files: One entry per changed path, sorted by path.
        added: Lines added over all text files.
        removed: Lines removed over all text files.
        unsafe: Paths of the entries whose ``unsafe`` is set.
    """

    commit: str
    base: str
    files: tuple[FileChange, ...]
    added: int
    removed: int
    unsafe: tuple[str, ...]


@dataclass(frozen=True)
class AcceptResult:
    """What accepting a task's change did.

    Attributes:
        commit: The new commit (on the current branch, or the tip of ``branch``).
        branch: The branch created when accepting as a branch, else ``None``.
        notes: Where accept differed from a plain ``git commit`` the user should know
            about ("hooks not run: pre-commit (...)").
    """

    commit: str
    branch: str | None = None
    notes: tuple[str, ...] = ()
