"""A throwaway checkout of a candidate commit, for running the repo's tests on it.

It is a git worktree of the engine's private dir (not of the user's repo): the tests can
run ``git`` there, the user's ``.git`` gets no worktree entry, and removing it leaves
nothing behind. Git runs isolated here (no hooks, no filters from anybody's config).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.repo import remove_tree


def add_test_copy(private: Git, commit: str) -> Path:
    """Check ``commit`` out into a new temporary folder and return it."""
    folder = Path(tempfile.mkdtemp(prefix="agentdeck-land-")) / "repo"
    private.run("worktree", "add", "-q", "--detach", folder, commit)
    return folder


def remove_test_copy(private: Git, folder: Path) -> None:
    """Delete a folder `add_test_copy` made, and its worktree entry."""
    private.run("worktree", "remove", "--force", "--force", folder, ok=(0, 128))
    remove_tree(folder.parent)
    private.run("worktree", "prune")
