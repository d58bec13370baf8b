"""Moving a task's tree into and out of a container as tar streams.

Docker endpoints may be remote, so nothing assumes a filesystem shared with the
container: the working copy goes in with ``put_archive`` and comes back with
``get_archive``. What comes back was written by an untrusted agent, so `extract_capped`
checks every member before anything reaches the disk and stops at the first
violation, leaving the host's working copy as it was.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from agentdeck.engine.errors import UnsafeChange

#: Owner of everything copied into the container (the image's ``agent`` user).
SANDBOX_UID = 1000


@dataclass(frozen=True)
class CollectLimits:
    """How much a container may hand back: total file bytes and number of entries."""

    max_bytes: int = 1 << 30
    max_files: int = 20_000


def pack_tree(root: Path, out: IO[bytes], skip: tuple[str, ...] = ()) -> None:
    """Write ``root``'s contents (``.git`` included unless in ``skip``, the top-level
    names left out) as a tar to ``out``, owned by uid 1000.

    Symlinks are stored as symlinks; sockets, fifos and devices are left out.
    """
    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if not (info.isfile() or info.isdir() or info.issym()):
            return None
        info.uid = info.gid = SANDBOX_UID
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(set(os.listdir(root)) - set(skip)):
            tar.add(root / entry, arcname=entry, recursive=True, filter=owned)


class ChunkReader:
    """A minimal read-only file over an iterator of byte chunks (for ``tarfile`` r|)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            size = len(self._buf)
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data


def _relative(name: str, top: str) -> PurePosixPath | None:
    """The member's path below the archive's top directory ``top``; None for ``top`` itself."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeChange(f"the container's tree holds an entry with an unsafe path: {name!r}")
    parts = path.parts[1:] if path.parts and path.parts[0] == top else path.parts
    return PurePosixPath(*parts) if parts else None


class _Tree:
    """A directory written only through file descriptors, never through a path string.

    Every component is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's
    descriptor, so a symlink the agent planted anywhere in the tree (or in place of a
    component) makes the walk fail instead of leading outside.
    """

    def __init__(self, root_fd: int) -> None:
        self.fd = root_fd

    def parent(self, rel: PurePosixPath, create: bool) -> int:
        """A new descriptor of ``rel``'s parent directory (the caller closes it).

        Raises:
            UnsafeChange: a component is a symlink or not a directory.
        """
        current = os.dup(self.fd)
        try:
            for i, part in enumerate(rel.parts[:-1]):
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=current)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=current)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise  # (FileNotFoundError: a missing parent, for `lstat`)
                    raise UnsafeChange(_not_a_dir(current, part, rel, i)) from exc
                os.close(current)
                current = child
            return current
        except BaseException:
            os.close(current)
            raise

    def lstat(self, rel: PurePosixPath) -> os.stat_result | None:
        """``rel``'s own status (a symlink is not followed); None if it does not exist."""
        try:
            parent = self.parent(rel, create=False)
        except FileNotFoundError:
            return None
        try:
            return os.stat(rel.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(parent)


def _not_a_dir(parent: int, part: str, rel: PurePosixPath, depth: int) -> str:
    """Why ``rel`` cannot be written: its component ``part`` is a link or not a directory."""
    where = PurePosixPath(*rel.parts[:depth + 1])
    try:
        link = stat.S_ISLNK(os.stat(part, dir_fd=parent, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        link = False
    if link:
        return f"the container's tree writes {rel} through the symlink {where}"
    return f"the container's tree writes {rel} below {where}, which is not a directory"


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, tree: _Tree,
                  rel: PurePosixPath, top: str) -> None:
    parent = tree.parent(rel, create=True)
    try:
        name = rel.name
        with contextlib.suppress(FileNotFoundError):
            old = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not (member.isdir() and stat.S_ISDIR(old.st_mode)):
                _remove(parent, name, old)
        if member.isdir():
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)  # as it is, never followed
        elif member.islnk():
            _link(tree, _relative(member.linkname, top), parent, rel)
        else:
            _write_file(tar.extractfile(member), parent, rel, member)
    finally:
        os.close(parent)


def _remove(parent: int, name: str, old: os.stat_result) -> None:
    """Remove an entry an earlier member wrote (a later member of the same name wins)."""
    if not stat.S_ISDIR(old.st_mode):
        os.unlink(name, dir_fd=parent)
        return
    shutil.rmtree(name, dir_fd=parent)  # the fd-based rmtree: never follows a link


def _link(tree: _Tree, source: PurePosixPath | None, parent: int, rel: PurePosixPath) -> None:
    """Recreate a hard link as a hard link to the file the tree already holds.

    The data is on the host once however many names it has, so it counts once toward
    the cap. Both ends are inside the staging tree: the source is looked up through the
    tree's descriptors without following links and must be a regular file.
    """
    found = tree.lstat(source) if source is not None else None
    if source is None or found is None or not stat.S_ISREG(found.st_mode):
        raise UnsafeChange(f"the container's tree holds a hard link {rel} to {source}, "
                           "which is not a file of the tree")
    source_parent = tree.parent(source, create=False)
    try:
        os.link(source.name, rel.name, src_dir_fd=source_parent, dst_dir_fd=parent,
                follow_symlinks=False)
    finally:
        os.close(source_parent)


def _write_file(src: IO[bytes] | None, parent: int, rel: PurePosixPath,
                member: tarfile.TarInfo) -> None:
    mode = member.mode & 0o777  # never setuid/setgid/sticky on the host
    if rel.parts[:2] == (".git", "hooks"):
        mode &= ~0o111  # a hook planted by the agent must never be runnable on the host
    fd = os.open(rel.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode, dir_fd=parent)
    with os.fdopen(fd, "wb") as dst:
        if src is not None:
            shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.utime(dst.fileno(), (member.mtime, member.mtime))


def _check_member(member: tarfile.TarInfo, rel: PurePosixPath, files: int, size: int,
                  limits: CollectLimits) -> None:
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        kind = "device" if member.ischr() or member.isblk() else "special file"
        raise UnsafeChange(f"the container's tree holds a {kind}: {rel}")
    if files > limits.max_files:
        raise UnsafeChange(
            f"the container's tree holds more than {limits.max_files} entries; "
            "nothing was copied back (raise the limit or remove generated files)")
    if size > limits.max_bytes:
        raise UnsafeChange(
            f"the container's tree is larger than {limits.max_bytes} bytes "
            f"(reached at {rel}, {member.size} bytes); nothing was copied back")


def extract_capped(chunks: Iterable[bytes], dest: Path, top: str,
                   limits: CollectLimits = CollectLimits()) -> None:
    """Replace ``dest``'s contents with the tar stream ``chunks`` (rooted at ``top``/).

    The stream is read once, member by member, into a staging directory beside
    ``dest``; limits are checked on each member's header before its data is read, so a
    huge file is refused without being written. A hard link becomes a hard link (its
    data is written, and counted, once). Only a fully accepted tree replaces ``dest``; on
    any refusal ``dest`` is untouched. Every write goes through directory descriptors
    opened without following links (see `_Tree`).

    Raises:
        UnsafeChange: an absolute or ``..`` path, a device or special file, a path through
            a symlink, a hard link to anything but a file of the tree, or more than
            ``limits`` allow.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.collect-", dir=dest.parent))
    staging_fd = os.open(staging, _DIR_FLAGS)
    try:
        tree = _Tree(staging_fd)
        files = size = 0
        with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
            for member in tar:
                rel = _relative(member.name, top)
                if rel is None:
                    continue
                files += 1
                size += member.size if member.isfile() else 0
                _check_member(member, rel, files, size, limits)
                _write_member(tar, member, tree, rel, top)
        _swap_contents(staging_fd, dest)
    finally:
        os.close(staging_fd)
        shutil.rmtree(staging, ignore_errors=True)


def _swap_contents(staging_fd: int, dest: Path) -> None:
    """Empty ``dest`` and move the staged entries in, all by directory descriptor (an
    entry of the old tree that is a symlink is removed, never followed)."""
    dest_fd = os.open(dest, _DIR_FLAGS)
    try:
        for entry in list(os.scandir(dest_fd)):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.name, dir_fd=dest_fd)
            else:
                os.unlink(entry.name, dir_fd=dest_fd)
        for entry in list(os.scandir(staging_fd)):
            os.rename(entry.name, entry.name, src_dir_fd=staging_fd, dst_dir_fd=dest_fd)
    finally:
        os.close(dest_fd)
