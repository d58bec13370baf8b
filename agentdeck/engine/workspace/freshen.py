"""Moving a task's change onto the branch's current head (freshen), and the checks that
come first: the user's checkout must be clean and on the branch the task started from.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace.accept import merged_tree
from agentdeck.engine.workspace.capture import record_checkout
from agentdeck.engine.workspace.copies import init_inner_repo
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.merge import Merge, conflict_hunks, merge_onto
from agentdeck.engine.workspace.repo import ENGINE_IDENTITY, UserRepo, remove_tree


@dataclass(frozen=True)
class Freshened:
    """A task's change moved onto a newer head.

    Attributes:
        base: The new base (the branch's head).
        commit: The new result on ``base``; with ``conflicts`` its files hold conflict
            markers (what the agent gets to resolve).
        conflicts: The conflicting paths (empty: a clean rebase).
        hunks: The conflict-marker regions of each conflicting path.
    """

    base: str
    commit: str
    conflicts: tuple[str, ...] = ()
    hunks: dict[str, str] = field(default_factory=dict)


def check_target(repo: UserRepo, private: Git, base: str) -> str:
    """The branch to land on: the one checked out, if it is clean and holds ``base``.

    Raises:
        RepoError: HEAD is detached, tracked files have uncommitted changes, or the
            branch does not contain the commit the task started from (another branch is
            checked out). Nothing is changed.
    """
    branch = repo.branch()
    if branch is None:
        raise RepoError(f"HEAD is detached in {repo.root}: check out the task's branch first")
    if repo.git.run("status", "--porcelain", "-z", "--untracked-files=no").stdout:
        raise RepoError(f"{repo.root} has uncommitted changes: commit or stash them first "
                        "(nothing was changed)")
    origin = _origin(repo, private, base)
    holds = repo.git.run("merge-base", "--is-ancestor", origin, "HEAD", ok=(0, 1))
    if holds.returncode:
        raise RepoError(f"{repo.root} is on branch {branch}, which does not contain the "
                        f"task's base {base[:10]}: check out the branch the task started "
                        "from (nothing was changed)")
    return branch


def _origin(repo: UserRepo, private: Git, base: str) -> str:
    """``base``, or for a snapshot of uncommitted work (a commit only agentdeck has)
    its parent, the user's commit it was made on."""
    known = repo.git.run("cat-file", "-e", f"{base}^{{commit}}", ok=(0, 1, 128))
    return base if known.returncode == 0 else private.out("rev-parse", f"{base}^1")


def rebase_change(private: Git, base: str, commit: str, head: str, task_id: str) -> Freshened:
    """The change ``base..commit`` as a commit on ``head`` (conflict markers included
    when it does not merge cleanly)."""
    merged: Merge = merge_onto(private, base, head, commit)
    new = private.with_env(**ENGINE_IDENTITY).out(
        "commit-tree", merged.tree, "-p", head, "-m", f"agentdeck: result of task {task_id}")
    hunks = conflict_hunks(private, merged) if merged.conflicts else {}
    return Freshened(base=head, commit=new, conflicts=merged.conflicts, hunks=hunks)


def rebuild_copy(private: Git, fresh: Freshened, workdir: Path, manifest: Path) -> None:
    """Replace the task's working copy with ``fresh.commit``'s files, its inner ``.git``
    at ``fresh.base``: a follow-up sees its change as uncommitted work on the new head.

    The old copy is the agent's and is deleted, never read; the new one is written by
    agentdeck from its private dir alone.
    """
    remove_tree(workdir)
    workdir.mkdir(parents=True)
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="freshen-") as tmp:
        index = Path(tmp) / "index"
        checkout = Git(git_dir=private.git_dir, work_tree=workdir, cwd=workdir).with_env(
            GIT_INDEX_FILE=index)
        checkout.run("read-tree", "--reset", "-u", fresh.commit)
        record_checkout(private, fresh.commit, workdir, manifest, index)
    init_inner_repo(workdir, (private, fresh.base), None)


def candidate_tree(repo: UserRepo, private: Git, base: str, commit: str, onto: str) -> str:
    """The tree accepting ``base..commit`` on top of commit ``onto`` would commit.

    Raises:
        ConflictError: the change conflicts with ``onto`` (nothing changed).
    """
    if onto == base:
        return private.out("rev-parse", f"{commit}^{{tree}}")
    return merged_tree(private, base, onto, commit, repo.branch() or "HEAD")
