"""No-follow file access inside trees an agent wrote.

Every helper here works relative to an open directory file descriptor and opens each
path component with ``O_NOFOLLOW``, so a symlink (or a folder swapped for one) anywhere in
an agent's tree can never lead a host-side read, write or delete out of that tree. Path
strings are only ever single names, never ``a/b`` resolved by the kernel.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO the agent left must not hang the engine.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_DIR = stat.S_IRUSR | stat.S_IXUSR


class UnsafePath(OSError):
    """A path component is a symlink, or not the kind of file expected there."""


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """``lstat`` of ``name`` in ``dir_fd``, ``None`` when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_dir(name: str, dir_fd: int | None = None) -> int:
    """Open the folder ``name`` (in ``dir_fd``) without following a symlink.

    A folder the agent made unreadable (``chmod 000``) is given back ``u+rx`` first:
    the engine runs as the same user and must see everything the agent left.

    Raises:
        UnsafePath: ``name`` is a symlink or not a folder.
    """
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        return _reopen_granting(name, dir_fd, _READ_DIR, os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(f"{name!r} is a symlink or not a folder") from exc
        raise


def _reopen_granting(name: str, dir_fd: int | None, bits: int, kind_flag: int) -> int:
    """Open ``name`` as an ``O_PATH`` handle (needs no read permission), add ``bits``
    to its mode through that handle and reopen the very same inode through it."""
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC | kind_flag, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if stat.S_ISLNK(mode):
            raise UnsafePath(f"{name!r} is a symlink")
        proc_path = f"/proc/self/fd/{handle}"
        os.chmod(proc_path, stat.S_IMODE(mode) | bits)
        flags = DIR_FLAGS if kind_flag else FILE_FLAGS
        return os.open(proc_path, flags & ~os.O_NOFOLLOW)
    finally:
        os.close(handle)


def open_file(name: str, dir_fd: int) -> int:
    """Open the regular file ``name`` in ``dir_fd`` for reading, never through a symlink.

    Raises:
        UnsafePath: ``name`` is a symlink or not a regular file.
    """
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        fd = _reopen_granting(name, dir_fd, stat.S_IRUSR, 0)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"{name!r} is a symlink") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{name!r} is not a regular file")
    return fd


@contextmanager
def opened(fd: int) -> Iterator[int]:
    """Close ``fd`` when the block ends."""
    try:
        yield fd
    finally:
        os.close(fd)


def open_parts(root_fd: int, parts: Sequence[str], *, create: bool = False) -> int:
    """Open the folder ``root/parts[0]/parts[1]/...`` one no-follow component at a time.

    Args:
        root_fd: The folder the path is relative to (kept open).
        parts: The path's components; none may be ``..``, ``.`` or empty.
        create: Make missing folders (mode 0755) on the way.

    Raises:
        UnsafePath: a component is a symlink or not a folder.
        FileNotFoundError: a component is missing and ``create`` is false.
    """
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise UnsafePath(f"{'/'.join(parts)!r} has a '.', '..' or empty component")
            if create and lstat_at(fd, part) is None:
                os.mkdir(part, 0o755, dir_fd=fd)
            child = open_dir(part, fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_all(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes of an open file (it must not have changed size)."""
    chunks = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise UnsafePath("the file shrank while being read")
        chunks.append(chunk)
        left -= len(chunk)
    if os.read(fd, 1):
        raise UnsafePath("the file grew while being read")
    return b"".join(chunks)


def write_new(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace whatever ``name`` is in ``dir_fd`` (file, link, folder) by a new file."""
    remove_at(dir_fd, name)
    fd = os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd)
    with opened(fd):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def remove_at(dir_fd: int, name: str) -> None:
    """Delete ``name`` in ``dir_fd`` and, for a folder, everything in it; links are
    removed, never followed. Nothing happens when ``name`` does not exist."""
    st = lstat_at(dir_fd, name)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    # Depth-first without recursion: an agent's tree may be deeper than Python's stack.
    stack = [(dir_fd, name, _open_writable(name, dir_fd))]
    pending = [iter(os.listdir(stack[0][2]))]
    while stack:
        parent, folder, fd = stack[-1]
        child = next(pending[-1], None)
        if child is None:
            stack.pop()
            pending.pop()
            os.close(fd)
            os.rmdir(folder, dir_fd=parent)
            continue
        st = lstat_at(fd, child)
        if st is not None and stat.S_ISDIR(st.st_mode):
            child_fd = _open_writable(child, fd)
            stack.append((fd, child, child_fd))
            pending.append(iter(os.listdir(child_fd)))
        elif st is not None:
            os.unlink(child, dir_fd=fd)


def _open_writable(name: str, dir_fd: int) -> int:
    """Open a folder to empty it: a read-only folder of the agent's gets ``u+rwx``."""
    fd = open_dir(name, dir_fd)
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & stat.S_IRWXU != stat.S_IRWXU:
        os.fchmod(fd, mode | stat.S_IRWXU)
    return fd


Visit = Callable[[int, str, list[os.DirEntry[str]]], list[str]]


def walk(root_fd: int, visit: Visit) -> None:
    """Walk the folders under ``root_fd`` depth-first, no-follow, without recursion.

    ``visit(fd, prefix, entries)`` gets each folder's open descriptor, its path prefix
    (``""`` for the root, else ``"a/b/"``) and its entries, and returns the names of the
    sub-folders to enter. One descriptor per level is open at a time.
    """
    stack = [(root_fd, "", iter(visit(root_fd, "", list(os.scandir(root_fd)))))]
    try:
        while stack:
            fd, prefix, children = stack[-1]
            name = next(children, None)
            if name is None:
                stack.pop()
                if fd != root_fd:
                    os.close(fd)
                continue
            child_fd = open_dir(name, fd)
            child_prefix = f"{prefix}{name}/"
            try:
                sub = visit(child_fd, child_prefix, list(os.scandir(child_fd)))
            except BaseException:
                os.close(child_fd)
                raise
            stack.append((child_fd, child_prefix, iter(sub)))
    finally:
        for fd, _, _ in stack[1:]:
            os.close(fd)
