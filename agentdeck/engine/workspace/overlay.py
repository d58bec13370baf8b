"""Capture a change that came back as an overlay: the changed files plus removed paths.

A runtime that starts tasks from a layer of the base tree (Docker) copies back only what
the agent changed; the task's folder then holds those files and nothing else. Its tree is
the base tree with: every base path the agent removed (a folder: all under it) dropped,
every base entry the overlay replaces dropped (a file where a folder was, a folder where a
file was), and the overlay's own entries on top. The overlay is walked exactly like a full
working copy (no-follow, nested repos as gitlinks, hard links once), and the limits count
what would enter the diff: the overlay's changed entries and the base entries dropped.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace import safefs
from agentdeck.engine.workspace.capture import (BaseTree, IgnoreRules, Manifest, TreeWalk,
                                                _resolve, write_blobs, write_tree)
from agentdeck.engine.workspace.gitcmd import Git


def capture_overlay(private: Git, base: str, changes: Path, removed: Sequence[str], *,
                    max_files: int, max_bytes: int) -> str:
    """The tree of ``base`` with the overlay ``changes`` and ``removed`` applied.

    Raises:
        UnsafeChange: over ``max_files`` changed paths or ``max_bytes`` of new content.
        RepoError: the folder cannot be opened, or changed during the capture.
    """
    assert private.git_dir is not None
    algo = "sha1" if len(base) == 40 else "sha256"
    base_tree = BaseTree.load(private, base)
    with tempfile.TemporaryDirectory(prefix="capture-", dir=private.git_dir) as tmp, \
            IgnoreRules(private.git_dir) as rules:
        try:
            root_fd = safefs.open_dir(os.fspath(changes))
        except (OSError, safefs.UnsafePath) as exc:
            raise RepoError(f"cannot open the task's changes in {changes}: {exc}") from exc
        with safefs.opened(root_fd):
            walk = TreeWalk(base_tree, Manifest(), rules, algo, max_files, max_bytes)
            folders: set[str] = set()

            def scan(fd: int, prefix: str, listing: list[os.DirEntry[str]]) -> list[str]:
                if prefix:
                    folders.add(prefix.rstrip("/"))
                return walk._scan(fd, prefix, listing)

            try:
                safefs.walk(root_fd, scan)
                kept = kept_base(base_tree, walk.entries, folders, removed)
                walk.changed += len(base_tree.files) - len(kept) - sum(
                    1 for path in walk.entries if path in base_tree.files)
                walk._check_limits()
                written = write_blobs(private, root_fd, walk, Path(tmp))
            except safefs.UnsafePath as exc:
                raise RepoError(f"the task's changes changed while being recorded: {exc}") from exc
        entries = {path: (entry.mode, entry.sha) for path, entry in kept.items()}
        entries.update(_resolve(walk, written))
        return write_tree(private, entries, Path(tmp))


def kept_base(base: BaseTree, overlay: dict[str, object], folders: set[str],
              removed: Sequence[str]) -> dict[str, object]:
    """The base entries the overlay neither removes nor replaces nor shadows."""
    gone = set(removed)
    files = {path for path in overlay if path in base.files}
    gone |= {path for path in overlay if path not in base.files}  # new non-folders shadow
    gone |= {path for path in folders if path in base.files}      # a folder over a file

    def dropped(path: str) -> bool:
        if path in files or path in gone:
            return True
        parent = path.rpartition("/")[0]
        while parent:
            if parent in gone:
                return True
            parent = parent.rpartition("/")[0]
        return False

    return {path: entry for path, entry in base.files.items() if not dropped(path)}
