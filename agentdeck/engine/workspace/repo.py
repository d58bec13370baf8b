"""Locating the user's repository and the engine's private git dir next to it."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from agentdeck.engine.errors import InvalidInput, RepoError
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.userconfig import UserConfig

# Task ids become file names and ref names: keep them to a plain, portable alphabet.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

ENGINE_IDENTITY = {
    "GIT_AUTHOR_NAME": "agentdeck", "GIT_AUTHOR_EMAIL": "agentdeck@localhost",
    "GIT_COMMITTER_NAME": "agentdeck", "GIT_COMMITTER_EMAIL": "agentdeck@localhost",
}


def check_task_id(task_id: str) -> str:
    """Return ``task_id`` if it is safe as a file and ref name, else raise `InvalidInput`."""
    if not _TASK_ID.fullmatch(task_id) or ".." in task_id or task_id.endswith(".lock"):
        raise InvalidInput(
            f"task id {task_id!r} is not usable as a folder/ref name "
            "(letters, digits, '.', '_', '-'; at most 128 characters)"
        )
    return task_id


def check_commit(sha: str) -> str:
    """Return ``sha`` if it is a full commit id (never an option or a rev expression)."""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        raise InvalidInput(f"{sha!r} is not a full commit id")
    return sha


def base_ref(task_id: str) -> str:
    """The private ref keeping a task's base commit reachable."""
    return f"refs/agentdeck/base/{task_id}"


def result_ref(task_id: str) -> str:
    """The private ref keeping a task's result commit reachable."""
    return f"refs/agentdeck/result/{task_id}"


def reviewed_ref(task_id: str) -> str:
    """The private ref keeping the result commit a reviewer last sent back reachable (the
    older side of the next review's interdiff)."""
    return f"refs/agentdeck/reviewed/{task_id}"


@dataclass(frozen=True)
class UserRepo:
    """A user's (non-bare) repository, resolved to its top level."""

    root: Path
    git_dir: Path
    common_dir: Path

    @property
    def git(self) -> Git:
        """Trusted git in this repo: the user's config applies, hooks do not run."""
        return Git(cwd=self.root, isolated=False)

    @cached_property
    def config(self) -> UserConfig:
        """The settings accept reads (identity, signing, hooks, filters), read once: a
        `UserRepo` lives for one operation."""
        return UserConfig.read(self.git)

    def head(self) -> str:
        """The commit HEAD points to; `RepoError` when the repo has no commit yet."""
        proc = self.git.run("rev-parse", "--verify", "-q", "HEAD^{commit}", ok=(0, 1))
        if proc.returncode:
            raise RepoError(f"{self.root} has no commits yet: commit something first")
        return proc.stdout.decode().strip()

    def branch(self) -> str | None:
        """The checked-out branch (``refs/heads/...`` stripped), ``None`` when detached."""
        proc = self.git.run("symbolic-ref", "-q", "HEAD", ok=(0, 1))
        ref = proc.stdout.decode().strip()
        return ref.removeprefix("refs/heads/") if proc.returncode == 0 else None


def open_repo(repo: str | os.PathLike[str]) -> UserRepo:
    """Resolve ``repo`` (any folder inside a work tree) or raise a `RepoError` saying why not."""
    if "\0" in os.fspath(repo):
        raise RepoError(f"the repo path {os.fspath(repo)!r} contains a NUL byte: "
                        "no folder has such a name; check how the path was pasted")
    path = Path(repo).expanduser()
    _check_folder(path)
    probe = Git(cwd=path, isolated=False)
    proc = probe.run("rev-parse", "--path-format=absolute", "--is-bare-repository",
                     "--is-inside-work-tree", "--absolute-git-dir", "--git-common-dir",
                     ok=(0, 128))
    if proc.returncode:
        raise RepoError(_refusal(path, proc.stderr.decode(errors="replace")))
    bare, inside, git_dir, common_dir = proc.stdout.decode().splitlines()
    if bare == "true":
        raise RepoError(f"{path} is a bare repository: agentdeck needs one with a working tree")
    if inside != "true":
        raise RepoError(f"{path} is inside a .git folder: pick the project folder instead")
    root = Path(probe.out("rev-parse", "--show-toplevel")).resolve()
    return UserRepo(root=root, git_dir=Path(git_dir), common_dir=Path(common_dir))


def _check_folder(path: Path) -> None:
    """Fail unless ``path`` is a folder this process can list and enter."""
    try:
        is_dir = stat.S_ISDIR(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        raise RepoError(f"{path} does not exist") from None
    except PermissionError:
        raise RepoError(f"cannot reach {path}: a folder above it does not let you in; "
                        "give your user access to it (chmod u+rx) or pick another folder") from None
    except OSError as exc:
        raise RepoError(f"cannot open {path}: {exc.strerror}") from None
    if not is_dir:
        raise RepoError(f"{path} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise RepoError(f"cannot read {path}: permission denied; give your user access "
                        "to it (chmod u+rx) or pick another folder")


def _refusal(path: Path, stderr: str) -> str:
    """One line saying why git will not use ``path``, and what to do about it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if "detected dubious ownership" in stderr:
        fix = next((line for line in lines if "safe.directory" in line), None)
        how = f"if you trust it, run: {fix}" if fix else "see safe.directory in 'git help config'"
        return f"{path} belongs to another user, so git does not trust it; {how}"
    if "not a git repository" in stderr:
        locked = _unreadable_git_dir(path)
        if locked:
            return (f"cannot read {locked}: permission denied; give your user access to "
                    "it (chmod -R u+rwX) or pick another folder")
        return f"{path} is not a git repository: run 'git init' there or pick another folder"
    return f"cannot use {path} as a git repository: {lines[0] if lines else 'git failed'}"


def _unreadable_git_dir(path: Path) -> Path | None:
    """A ``.git`` in ``path`` or above that exists but cannot be read (git then says
    "not a git repository", which would send the user to ``git init``)."""
    for folder in (path.absolute(), *path.absolute().parents):
        dot_git = folder / ".git"
        if os.path.lexists(dot_git):
            wanted = os.R_OK | os.X_OK if dot_git.is_dir() else os.R_OK
            return None if os.access(dot_git, wanted) else dot_git
    return None


class PrivateStore:
    """The engine's bare git dirs, one per user repo, under ``<home>/git``.

    Each borrows the user's objects through ``objects/info/alternates`` (so a snapshot
    costs nothing) and keeps everything it writes (agent results, snapshots of
    uncommitted work) to itself, so the user's ``.git`` never changes until accept.
    """

    def __init__(self, home: Path) -> None:
        self.root = home / "git"

    def path_for(self, repo: UserRepo) -> Path:
        """Where the private git dir of ``repo`` lives."""
        digest = hashlib.sha256(os.fsencode(repo.root)).hexdigest()[:24]
        return self.root / f"{digest}.git"

    def open(self, repo: UserRepo) -> Git:
        """Isolated git on the private dir of ``repo``, created on first use."""
        path = self.path_for(repo)
        alternates = os.fsencode(repo.common_dir / "objects") + b"\n"
        if not path.is_dir():
            self._create(path, repo)
        info = path / "objects" / "info" / "alternates"
        if info.read_bytes() != alternates:  # the user moved their .git: follow it
            info.write_bytes(alternates)
        return Git(git_dir=path)

    def _create(self, path: Path, repo: UserRepo) -> None:
        # Built aside and renamed into place, so two threads racing here both end well.
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{path.name}.{uuid.uuid4().hex}.tmp"
        Git().run("init", "-q", "--bare", "--template=", tmp)
        (tmp / "objects" / "info").mkdir(parents=True, exist_ok=True)
        (tmp / "objects" / "info" / "alternates").write_bytes(
            os.fsencode(repo.common_dir / "objects") + b"\n")
        (tmp / "agentdeck-repo").write_bytes(os.fsencode(repo.root) + b"\n")
        try:
            tmp.rename(path)
        except OSError:
            if not path.is_dir():
                raise
            remove_tree(tmp)

    def all_dirs(self) -> list[Path]:
        """Every private git dir (for cleanup by task id alone)."""
        return sorted(self.root.glob("*.git")) if self.root.is_dir() else []


def remove_tree(path: Path) -> None:
    """Delete ``path`` even where an agent made folders read-only; never follows symlinks."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    if not path.exists():
        return
    # Open every folder up first: rmtree cannot list or empty a folder without r/w/x.
    os.chmod(path, stat.S_IRWXU)
    for parent, dirs, _files in os.walk(path):
        for name in dirs:
            child = os.path.join(parent, name)
            if not os.path.islink(child):
                os.chmod(child, stat.S_IRWXU)
    shutil.rmtree(path)
