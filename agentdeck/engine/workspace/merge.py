"""Three-way merges in the private git dir: what a task's change becomes on a newer head.

Accept, the overlap re-check and freshen all ask the same question — does the change made
on ``base`` still apply on top of ``head``, and to what tree — so it is answered here once.
Nothing here touches the user's repository.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.repo import ENGINE_IDENTITY

#: Most lines of conflict text `conflict_hunks` gives for one file.
HUNK_LINES = 200


@dataclass(frozen=True)
class Merge:
    """The outcome of merging a change onto a newer head.

    Attributes:
        tree: The merged tree; when ``conflicts`` is not empty its conflicting files hold
            git's conflict markers.
        conflicts: The conflicting paths, sorted (empty: a clean merge).
    """

    tree: str
    conflicts: tuple[str, ...]


def merge_onto(private: Git, base: str, head: str, change: str) -> Merge:
    """Merge commit ``change`` (made on ``base``) onto ``head``.

    git 2.39's merge-tree has no --merge-base: giving ``head``'s tree a parent of
    ``base`` makes ``base`` the one merge base, even when it is a snapshot commit that
    the user's branch never contained.
    """
    git = private.with_env(**ENGINE_IDENTITY)
    side = git.out("commit-tree", f"{head}^{{tree}}", "-p", base, "-m", "agentdeck: merge side")
    proc = private.run("merge-tree", "--write-tree", "-z", "--no-messages", side, change,
                       ok=(0, 1))
    tree, *records = os.fsdecode(proc.stdout).split("\0")
    if proc.returncode == 0:
        return Merge(tree, ())
    # Each conflicted entry is "<mode> <object> <stage>\t<path>", once per stage.
    paths = {record.split("\t", 1)[1] for record in records if "\t" in record}
    return Merge(tree, tuple(sorted(paths)))


def conflict_hunks(private: Git, merge: Merge, limit: int = HUNK_LINES) -> dict[str, str]:
    """The conflict-marker regions of each conflicting file of ``merge`` (path -> text,
    each region headed by its line number); a file without markers (deleted on one
    side, binary) says so instead."""
    hunks: dict[str, str] = {}
    for path in merge.conflicts:
        proc = private.run("cat-file", "blob", f"{merge.tree}:{path}", ok=(0, 128))
        text = proc.stdout.decode(errors="replace") if proc.returncode == 0 else ""
        regions = _marker_regions(text.splitlines(), limit)
        hunks[path] = regions or "(no conflict markers: deleted on one side, or binary)"
    return hunks


def _marker_regions(lines: list[str], limit: int) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(lines, start=1):
        if line.startswith("<<<<<<< "):
            inside = True
            out.append(f"@@ line {number}")
        if inside:
            out.append(line)
            if len(out) >= limit:
                out.append("... (more conflicts in this file)")
                break
        if line.startswith(">>>>>>> "):
            inside = False
    return "\n".join(out)
