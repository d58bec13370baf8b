"""A throwaway checkout of a candidate commit, for running the repo's tests on it.

It is a git worktree of the engine's private dir (not of the user's repo): the tests can
run ``git`` there, the user's ``.git`` gets no worktree entry, and removing it leaves
nothing behind. Git runs isolated here (no hooks, no filters from anybody's config).

Adding and removing worktrees of one git dir at the same time is not safe (a ``prune``
removes ``worktrees/`` while an ``add`` creates its entry in it), and the merge queue and
the tests of finished changes (`core.task_tests`) both make test copies: each step holds
an exclusive lock on a file in the private dir, across threads and processes.
"""
from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.repo import remove_tree


def add_test_copy(private: Git, commit: str) -> Path:
    """Check ``commit`` out into a new temporary folder and return it."""
    folder = Path(tempfile.mkdtemp(prefix="agentdeck-land-")) / "repo"
    with _worktrees_locked(private):
        private.run("worktree", "add", "-q", "--detach", folder, commit)
    return folder


def remove_test_copy(private: Git, folder: Path) -> None:
    """Delete a folder `add_test_copy` made, and its worktree entry."""
    with _worktrees_locked(private):
        private.run("worktree", "remove", "--force", "--force", folder, ok=(0, 128))
        remove_tree(folder.parent)
        private.run("worktree", "prune")


@contextmanager
def _worktrees_locked(private: Git) -> Iterator[None]:
    assert private.git_dir is not None
    with open(Path(private.git_dir) / "agentdeck-worktrees.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
