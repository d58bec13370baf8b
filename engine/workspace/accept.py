"""Applying an agent's result to the user's repository: one commit, or a branch."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from engine.errors import ConflictError, InvalidInput, RepoError, UnsafeChange
from engine.gitcmd import Git
from engine.workspace.changes import diff_result
from engine.workspace.repo import ENGINE_IDENTITY, UserRepo
from engine.workspace.types import FileChange

_ZERO = "0" * 40
# Files git leaves in .git while an operation waits for the user to finish it.
_IN_PROGRESS = {"MERGE_HEAD": "a merge", "CHERRY_PICK_HEAD": "a cherry-pick",
                "REVERT_HEAD": "a revert", "rebase-merge": "a rebase", "rebase-apply": "a rebase"}


def proposed_commit(repo: UserRepo, private: Git, base: str, commit: str, message: str,
                    exclude: Sequence[str]) -> str:
    """The result commit without the excluded paths, as the user's own commit on ``base``.

    Raises:
        InvalidInput: an excluded path is not part of the change, or nothing is left.
        UnsafeChange: an included entry is unsafe; the message names each with its reason.
    """
    changes = diff_result(private, base, commit).files
    unknown = set(exclude) - {p for f in changes for p in (f.path, f.old_path) if p}
    if unknown:
        raise InvalidInput(f"cannot exclude {', '.join(sorted(unknown))}: not changed by the task")
    excluded = [f for f in changes if f.path in exclude or f.old_path in exclude]
    included = [f for f in changes if f not in excluded]
    unsafe = [f for f in included if f.unsafe]
    if unsafe:
        named = "; ".join(f"{f.path} ({f.unsafe})" for f in unsafe)
        raise UnsafeChange(f"refusing to apply unsafe changes: {named}. "
                           "Exclude these files to accept the rest.")
    if not included:
        raise InvalidInput("nothing left to accept: every changed file is excluded")
    tree = _tree_without(private, base, commit, excluded)
    return private.with_env(**user_identity(repo)).out("commit-tree", tree, "-p", base, "-m", message)


def _tree_without(private: Git, base: str, commit: str, excluded: list[FileChange]) -> str:
    """The tree of ``commit`` with every excluded path back at its ``base`` version."""
    if not excluded:
        return private.out("rev-parse", f"{commit}^{{tree}}")
    paths = sorted({p for f in excluded for p in (f.path, f.old_path) if p})
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="accept-") as tmp:
        git = private.with_env(GIT_INDEX_FILE=Path(tmp) / "index", GIT_LITERAL_PATHSPECS="1")
        git.run("read-tree", commit)
        in_base = {line.split("\t", 1)[1]: line
                   for line in git.iter_z("ls-tree", "-r", "-z", "--full-tree", base, "--", *paths)
                   if line}
        entries = [in_base.get(p, f"0 {_ZERO}\t{p}") for p in paths]
        git.run("update-index", "-z", "--index-info",
                input=b"".join(os.fsencode(e) + b"\0" for e in entries))
        return git.out("write-tree")


def user_identity(repo: UserRepo) -> dict[str, str]:
    """Author and committer for the user's commit: their env/config, else agentdeck's."""
    def setting(env: str, key: str, fallback: str) -> str:
        proc = repo.git.run("config", "--get", key, ok=(0, 1))
        return os.environ.get(env) or proc.stdout.decode().strip() or fallback

    name = setting("GIT_AUTHOR_NAME", "user.name", ENGINE_IDENTITY["GIT_AUTHOR_NAME"])
    email = setting("GIT_AUTHOR_EMAIL", "user.email", ENGINE_IDENTITY["GIT_AUTHOR_EMAIL"])
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME") or name,
            "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL") or email}


def create_branch(repo: UserRepo, private: Git, name: str, proposal: str) -> str:
    """Create branch ``name`` at ``proposal`` in the user's repo; the work tree is untouched."""
    ref = f"refs/heads/{name}"
    if repo.git.run("rev-parse", "--verify", "-q", ref, ok=(0, 1)).returncode == 0:
        raise RepoError(f"branch {name} already exists in {repo.root}: delete or rename it first")
    transfer(private, repo, proposal, repo.head())
    repo.git.run("update-ref", "-m", "agentdeck: accept as branch", ref, proposal, "")
    return name


def commit_on_head(repo: UserRepo, private: Git, base: str, proposal: str, message: str) -> str:
    """Commit ``proposal``'s change on the user's current branch and check it out.

    Raises:
        RepoError: HEAD is detached, an operation is in progress, the branch already has
            the change, or uncommitted changes would be overwritten (nothing changed).
        ConflictError: the branch moved and merging conflicts (nothing changed).
    """
    branch = _check_ready(repo)
    old = repo.head()
    tree = private.out("rev-parse", f"{proposal}^{{tree}}") if old == base else \
        _merge(private, base, old, proposal, branch)
    if tree == private.out("rev-parse", f"{old}^{{tree}}"):
        raise RepoError(f"{branch} already contains these changes: nothing to commit")
    new = private.with_env(**user_identity(repo)).out("commit-tree", tree, "-p", old, "-m", message)
    _check_checkout(repo, private, old, new)
    transfer(private, repo, new, old)
    repo.git.run("read-tree", "-m", "-u", old, new)
    repo.git.run("update-ref", "-m", "agentdeck: accept", "HEAD", new, old)
    return new


def _check_ready(repo: UserRepo) -> str:
    branch = repo.branch()
    if branch is None:
        raise RepoError(f"HEAD is detached in {repo.root}: check out a branch, or accept as a branch")
    for name, what in _IN_PROGRESS.items():
        if (repo.git_dir / name).exists():
            raise RepoError(f"{repo.root} is in the middle of {what}: finish or abort it first")
    return branch


def _merge(private: Git, base: str, ours: str, theirs: str, branch: str) -> str:
    """Three-way merge of ``ours`` and ``theirs`` over ``base`` in the private dir.

    git 2.39's merge-tree has no --merge-base: giving ``ours``'s tree a parent of
    ``base`` makes ``base`` the one merge base, even when it is a snapshot commit that
    the user's branch never contained.
    """
    side = private.with_env(**ENGINE_IDENTITY).out(
        "commit-tree", f"{ours}^{{tree}}", "-p", base, "-m", "agentdeck: merge side")
    proc = private.run("merge-tree", "--write-tree", "-z", "--name-only", "--no-messages",
                       side, theirs, ok=(0, 1))
    tree, *rest = os.fsdecode(proc.stdout).split("\0")
    if proc.returncode == 0:
        return tree
    files = sorted({f for f in rest if f})
    raise ConflictError(
        f"the task's change conflicts with what is now on {branch} in {', '.join(files)}; "
        "nothing was changed. If the task started from uncommitted work, commit that work "
        "first; otherwise retry the task on the new base or merge by hand.",
        files=files)


def _check_checkout(repo: UserRepo, private: Git, old: str, new: str) -> None:
    """Dry-run the checkout, reading new objects from the private dir, so a refusal
    leaves even the user's object store untouched."""
    assert private.git_dir is not None
    git = repo.git.with_env(GIT_ALTERNATE_OBJECT_DIRECTORIES=private.git_dir / "objects")
    proc = git.run("read-tree", "-n", "-m", "-u", old, new, ok=(0, 128))
    if proc.returncode:
        changed = set(private.iter_z("diff-tree", "-r", "-z", "--name-only", old, new))
        in_the_way = sorted(changed & _local_changes(repo))
        detail = ", ".join(in_the_way) or proc.stderr.decode(errors="replace").strip()
        raise RepoError(
            f"accepting would overwrite uncommitted changes or untracked files in {repo.root}: "
            f"{detail}. Nothing was changed: commit, stash or move them, then accept again.")


def _local_changes(repo: UserRepo) -> set[str]:
    """Paths with staged, unstaged or untracked content in the user's repo."""
    records = repo.git.iter_z("status", "--porcelain", "-z", "--no-renames",
                              "--untracked-files=all")
    return {record[3:] for record in records if record}


def transfer(private: Git, repo: UserRepo, tip: str, have: str) -> None:
    """Copy the objects of ``tip`` that ``have`` lacks into the user's object store
    as one pack: no fetch, so no FETCH_HEAD, no refs, no hooks, no auto-gc."""
    with tempfile.TemporaryFile() as pack:
        private.run("pack-objects", "--revs", "--stdout", "-q",
                    input=f"{tip}\n^{have}\n".encode(), stdout=pack)
        pack.seek(0)
        repo.git.run("index-pack", "--stdin", stdin=pack)
