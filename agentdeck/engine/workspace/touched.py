"""Which paths a task touches: from its recorded result, or live from its working copy.

A running agent's copy is walked the way capture walks it (no-follow, directory fds, git
never looks at it), but nothing is written: no blob, no tree, no manifest update. Files
whose stat still matches the manifest prepare wrote are not read at all, so a walk costs
about one ``stat`` per file.
"""
from __future__ import annotations

import os
from pathlib import Path

from agentdeck.engine.errors import RepoError, UnsafeChange
from agentdeck.engine.workspace import safefs
from agentdeck.engine.workspace.capture import BaseTree, IgnoreRules, Manifest, TreeWalk
from agentdeck.engine.workspace.gitcmd import Git

# A live walk reports, it does not record: the capture limits do not apply to it.
_NO_LIMIT = 1 << 62


def result_paths(private: Git, base: str, commit: str) -> frozenset[str]:
    """Every path ``base..commit`` changes (both names of a rename)."""
    return frozenset(p for p in private.iter_z("diff", "--name-only", "--no-renames", "-z",
                                               base, commit) if p)


def live_paths(private: Git, base: str, workdir: Path, manifest: Path) -> frozenset[str]:
    """The paths that differ between ``base`` and the working copy now.

    Raises:
        RepoError: the copy cannot be opened or changed under the walk.
    """
    assert private.git_dir is not None
    algo = "sha1" if len(base) == 40 else "sha256"
    try:
        root_fd = safefs.open_dir(os.fspath(workdir))
    except (OSError, safefs.UnsafePath) as exc:
        raise RepoError(f"cannot open the working copy {workdir}: {exc}") from exc
    tree = BaseTree.load(private, base)
    with safefs.opened(root_fd), IgnoreRules(private.git_dir) as rules:
        walk = TreeWalk(tree, Manifest.load(manifest), rules, algo, _NO_LIMIT, _NO_LIMIT)
        try:
            walk.run(root_fd)
        except (safefs.UnsafePath, UnsafeChange, OSError) as exc:
            raise RepoError(f"the working copy {workdir} changed under the walk: {exc}") from exc
    changed = {path for path, (mode, sha) in walk.entries.items()
               if sha is None or (mode, sha) != _entry(tree, path)}
    return frozenset(changed | (tree.files.keys() - walk.entries.keys()))


def _entry(tree: BaseTree, path: str) -> tuple[str, str] | None:
    entry = tree.files.get(path)
    return (entry.mode, entry.sha) if entry else None
