"""How much disk a tree takes, counted the way ``du`` does, without following links.

What is counted: the blocks the filesystem allocated (``st_blocks`` × 512) for every
file, folder and link under a path, each inode once (hard links are not counted twice).
Blocks a reflink copy shares with its source cannot be told apart through ``stat``: for
such a copy (``shared_extents``) each file counts only its extents the filesystem does
not mark shared (the ``FIEMAP`` ioctl), so a clone costs what the agent wrote, and its
template counts in full. Objects a copy borrows through alternates live outside it and
are not counted there.
"""
from __future__ import annotations

import fcntl
import os
import stat
import struct
from pathlib import Path

_FIEMAP = 0xC020660B  # FS_IOC_FIEMAP, linux/fs.h
_FIEMAP_HEAD = struct.Struct("=QQLLLL")     # start, length, flags, mapped, count, reserved
_FIEMAP_EXTENT = struct.Struct("=QQQ16xL12x")  # logical, physical, length, flags
_EXTENT_SHARED = 0x2000
_ALL = 2**64 - 1


def tree_bytes(path: Path, seen: set[tuple[int, int]] | None = None, *,
               shared_extents: bool = False) -> int:
    """Allocated bytes of ``path`` and everything below it (0 when it is missing).

    Args:
        seen: ``(st_dev, st_ino)`` already counted, shared between calls so a hard link
            between two trees counts once over all of them.
        shared_extents: The tree is a reflink clone: leave out the blocks of its files
            that are shared with another file.
    """
    seen = set() if seen is None else seen
    count = _count_own if shared_extents else _count
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    total = count(path, st, seen)
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
            total += count(entry.path, st, seen)
            if stat.S_ISDIR(st.st_mode):
                pending.append(entry.path)
    return total


def _count(_path: str | Path, st: os.stat_result, seen: set[tuple[int, int]]) -> int:
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return 0
    seen.add(key)
    return st.st_blocks * 512


def _count_own(path: str | Path, st: os.stat_result, seen: set[tuple[int, int]]) -> int:
    """`_count`, less a regular file's shared extents."""
    allocated = _count(path, st, seen)
    if not allocated or not stat.S_ISREG(st.st_mode):
        return allocated
    own = unshared_bytes(path, st)
    return allocated if own is None else min(allocated, own)


def unshared_bytes(path: str | Path, st: os.stat_result) -> int | None:
    """Bytes of the regular file ``path`` (as ``st`` found it) in extents shared with no
    other file; ``None`` when the filesystem cannot say. Opened without following links
    or blocking, and only if it is still the file ``st`` describes (an agent's copy)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return None
        head = bytearray(_FIEMAP_HEAD.pack(0, _ALL, 0, 0, 0, 0))
        fcntl.ioctl(fd, _FIEMAP, head)  # count = 0: how many extents there are
        mapped = _FIEMAP_HEAD.unpack(head)[3]
        request = bytearray(_FIEMAP_HEAD.pack(0, _ALL, 0, 0, mapped, 0)
                            + bytes(_FIEMAP_EXTENT.size * mapped))
        fcntl.ioctl(fd, _FIEMAP, request)
        mapped = _FIEMAP_HEAD.unpack_from(request)[3]
        own = 0
        for n in range(mapped):
            _, _, length, flags = _FIEMAP_EXTENT.unpack_from(
                request, _FIEMAP_HEAD.size + n * _FIEMAP_EXTENT.size)
            if not flags & _EXTENT_SHARED:
                own += length
        return own
    except OSError:
        return None
    finally:
        os.close(fd)
