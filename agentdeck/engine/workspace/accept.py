"""Applying an agent's result to the user's repository: one commit, or a branch.

Everything that can refuse runs before the first byte reaches the user's repo (objects,
files, index, refs): unsafe entries, files of theirs in the way, filters switched by the
change's attributes, local changes, signing.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentdeck.engine.errors import ConflictError, InvalidInput, RepoError, UnsafeChange
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.changes import diff_result
from agentdeck.engine.workspace.hunks import (choose, file_hunks, needs_hunks, partial_patch,
                                              whole_files)
from agentdeck.engine.workspace.merge import merge_onto
from agentdeck.engine.workspace.guards import Checkout, check_filters, check_nothing_in_the_way
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.repo import ENGINE_IDENTITY, UserRepo
from agentdeck.engine.workspace.types import AcceptResult, FileChange
from agentdeck.engine.workspace.usercommit import commit_with_hooks, skipped_hooks_note, user_commit

_ZERO = "0" * 40
# Files git leaves in .git while an operation waits for the user to finish it.
_IN_PROGRESS = {"MERGE_HEAD": "a merge", "CHERRY_PICK_HEAD": "a cherry-pick",
                "REVERT_HEAD": "a revert", "rebase-merge": "a rebase", "rebase-apply": "a rebase"}


def proposed_tree(private: Git, base: str, commit: str, only: Sequence[str] = (),
                  exclude: Sequence[str] = ()) -> str:
    """The result's tree holding only the units (files, hunks: see `hunks.choose`) that
    ``only`` names (all when empty) less those ``exclude`` names; every other path keeps
    its ``base`` version, and a file with some of its hunks gets exactly what
    ``git apply`` of those hunks gives.

    Raises:
        InvalidInput: a selector names no file or hunk of the change, or nothing is left.
        UnsafeChange: an included entry is unsafe; the message names each with its reason.
    """
    diff = diff_result(private, base, commit, counts=False)
    files = (file_hunks(private, diff_result(private, base, commit))
             if needs_hunks(diff, [*only, *exclude]) else whole_files(diff))
    chosen = choose(files, only, exclude)
    unsafe = [f.change for f in files if f.change.path in chosen and f.change.unsafe]
    if unsafe:
        named = "; ".join(f"{escape_name(f.path)} ({f.unsafe})" for f in unsafe)
        raise UnsafeChange(f"refusing to apply unsafe changes: {named}. "
                           "Exclude these files to accept the rest.")
    if not chosen:
        raise InvalidInput("nothing left to accept: every change is excluded")
    partial = [f for f in files if len(chosen.get(f.change.path, ())) not in (0, f.units)]
    reset = [f.change for f in files if f.change.path not in chosen] + [f.change for f in partial]
    if not reset:
        return private.out("rev-parse", f"{commit}^{{tree}}")
    patch = b"".join(partial_patch(f, chosen[f.change.path]) for f in partial)
    return _tree_with(private, base, commit, reset, patch)


def _tree_with(private: Git, base: str, commit: str, reset: list[FileChange],
               patch: bytes) -> str:
    """The tree of ``commit`` with every ``reset`` path back at its ``base`` version, then
    ``patch`` applied (``git apply --cached``: git's own result, byte for byte)."""
    paths = sorted({p for f in reset for p in (f.path, f.old_path) if p})
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
        if patch:
            git.run("apply", "--cached", "--whitespace=nowarn", "-", input=patch)
        return git.out("write-tree")


def create_branch(repo: UserRepo, private: Git, name: str, base: str, tree: str,
                  message: str) -> AcceptResult:
    """Create branch ``name`` with ``tree`` committed on ``base``; the work tree is untouched."""
    ref = f"refs/heads/{name}"
    if repo.git.run("rev-parse", "--verify", "-q", ref, ok=(0, 1)).returncode == 0:
        raise RepoError(f"branch {name} already exists in {repo.root}: delete or rename it first")
    tip = user_commit(repo, private, tree, base, message)
    transfer(private, repo, tip, repo.head())
    repo.git.run("update-ref", "-m", "agentdeck: accept as branch", ref, tip, "")
    return AcceptResult(commit=tip, branch=name, notes=skipped_hooks_note(repo))


def commit_on_head(repo: UserRepo, private: Git, base: str, tree: str, message: str,
                   run_hooks: bool = False) -> AcceptResult:
    """Commit ``tree``'s change (made on ``base``) on the user's current branch and check
    it out; with ``run_hooks`` through their own ``git commit``.

    Raises:
        RepoError: HEAD is detached, an operation is in progress, the branch already has
            the change, files of the user's are in the way, or signing or a hook failed
            (nothing changed).
        ConflictError: the branch moved and merging conflicts (nothing changed).
        UnsafeChange: the change's attributes would switch the user's filters.
    """
    branch = _check_ready(repo)
    old = repo.head()
    if old != base:
        proposal = private.with_env(**ENGINE_IDENTITY).out(
            "commit-tree", tree, "-p", base, "-m", "agentdeck: proposal")
        tree = merged_tree(private, base, old, proposal, branch)
    if tree == private.out("rev-parse", f"{old}^{{tree}}"):
        raise RepoError(f"{branch} already contains these changes: nothing to commit")
    checkout = Checkout.between(private, old, tree)
    _check_checkout(repo, private, checkout)  # git's own check names local changes too
    check_nothing_in_the_way(repo.root, checkout)
    check_filters(repo, private, checkout)
    if run_hooks:
        return AcceptResult(commit=_commit_running_hooks(repo, private, old, tree, message))
    new = user_commit(repo, private, tree, old, message)
    transfer(private, repo, new, old)
    check_out(repo, old, new)
    repo.git.run("update-ref", "-m", "agentdeck: accept", "HEAD", new, old)
    return AcceptResult(commit=new, notes=skipped_hooks_note(repo))


def _commit_running_hooks(repo: UserRepo, private: Git, old: str, tree: str,
                          message: str) -> str:
    """Check ``tree`` out and let the user's ``git commit`` commit it; when that fails
    (a hook refused), the files go back to ``old``'s and HEAD never moved."""
    transfer(private, repo, tree, old)
    check_out(repo, old, tree)
    try:
        new = commit_with_hooks(repo, private, tree, message)
    except RepoError as exc:
        undo = repo.git.run("read-tree", "-m", "-u", tree, old, ok=(0, 128))
        if undo.returncode:
            raise RepoError(f"{exc}; the change stays checked out but uncommitted (a hook "
                            "changed its files): see git status") from None
        raise RepoError(f"{exc}. Nothing was committed and the files are as they were.") from None
    if repo.git.out("rev-parse", f"{new}^{{tree}}") != tree:
        # A hook re-staged files (a formatter): the index follows what was committed.
        repo.git.run("read-tree", "-m", tree, new)
    return new


def check_out(repo: UserRepo, old: str, new: str) -> None:
    """Move the user's index and files from ``old`` to ``new`` (both in their store).

    Unless the user set ``checkout.workers``, files are written by as many workers as
    there are cores: the same files, and on a change of hundreds of files most of the
    time accept takes is this writing.
    """
    git = repo.git
    if repo.config.get("checkout.workers") is None:
        git = git.with_config("checkout.workers=0")
    git.run("read-tree", "-m", "-u", old, new)


def _check_ready(repo: UserRepo) -> str:
    branch = repo.branch()
    if branch is None:
        raise RepoError(f"HEAD is detached in {repo.root}: check out a branch, or accept as a branch")
    for name, what in _IN_PROGRESS.items():
        if (repo.git_dir / name).exists():
            raise RepoError(f"{repo.root} is in the middle of {what}: finish or abort it first")
    return branch


def merged_tree(private: Git, base: str, ours: str, theirs: str, branch: str) -> str:
    """The tree of ``theirs`` (made on ``base``) merged onto ``ours``, or `ConflictError`."""
    merged = merge_onto(private, base, ours, theirs)
    if not merged.conflicts:
        return merged.tree
    files = list(merged.conflicts)
    raise ConflictError(
        f"the task's change conflicts with what is now on {branch} in "
        f"{', '.join(map(escape_name, files))}; nothing was changed. If the task started "
        "from uncommitted work, commit that work first; otherwise freshen the task "
        "(agentdeck freshen ID --hand-back gives the conflict to its agent), retry it on "
        "the new base or merge by hand.",
        files=files)


def _check_checkout(repo: UserRepo, private: Git, checkout: Checkout) -> None:
    """Dry-run the checkout, reading new objects from the private dir, so a refusal
    leaves even the user's object store untouched."""
    assert private.git_dir is not None
    git = repo.git.with_env(GIT_ALTERNATE_OBJECT_DIRECTORIES=private.git_dir / "objects")
    proc = git.run("read-tree", "-n", "-m", "-u", checkout.old, checkout.new, ok=(0, 128))
    if proc.returncode:
        touched = {p[:i] for p in checkout.writes for i, c in enumerate(p) if c == "/"}
        in_the_way = sorted((touched | set(checkout.writes)) & _local_changes(repo))
        detail = ", ".join(map(escape_name, in_the_way)) or \
            escape_name(proc.stderr.decode(errors="replace").strip().rstrip("."))
        raise RepoError(
            f"accepting would overwrite uncommitted changes or untracked files in {repo.root}: "
            f"{detail}. Nothing was changed: commit, stash or move them, then accept again.")


def _local_changes(repo: UserRepo) -> set[str]:
    """Paths with staged, unstaged or untracked content in the user's repo."""
    records = repo.git.iter_z("status", "--porcelain", "-z", "--no-renames",
                              "--untracked-files=all")
    return {record[3:] for record in records if record}


def transfer(private: Git, repo: UserRepo, tip: str, have: str) -> None:
    """Copy the objects of ``tip`` (a commit or a tree) that ``have`` lacks into the
    user's object store as one pack: no fetch, so no FETCH_HEAD, no refs, no hooks, no
    auto-gc."""
    with tempfile.TemporaryFile() as pack:
        private.run("pack-objects", "--revs", "--stdout", "-q",
                    input=f"{tip}\n^{have}\n".encode(), stdout=pack)
        pack.seek(0)
        repo.git.run("index-pack", "--stdin", stdin=pack)
