"""How much disk a tree takes, counted the way ``du`` does, without following links.

What is counted: the blocks the filesystem allocated (``st_blocks`` × 512) for every
file, folder and link under a path, each inode once (hard links are not counted twice).
Blocks a reflink copy shares with its source cannot be told apart through ``stat`` and
are counted in full for each copy; objects a copy borrows through alternates live outside
it and are not counted there.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def tree_bytes(path: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Allocated bytes of ``path`` and everything below it (0 when it is missing).

    Args:
        seen: ``(st_dev, st_ino)`` already counted, shared between calls so a hard link
            between two trees counts once over all of them.
    """
    seen = set() if seen is None else seen
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    total = _count(st, seen)
    if not stat.S_ISDIR(st.st_mode):
        return total
    pending = [os.fspath(path)]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # unreadable (an agent's chmod 000): what it holds is not counted
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += _count(st, seen)
            if stat.S_ISDIR(st.st_mode):
                pending.append(entry.path)
    return total


def _count(st: os.stat_result, seen: set[tuple[int, int]]) -> int:
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return 0
    seen.add(key)
    return st.st_blocks * 512
