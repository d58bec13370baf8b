"""Moving a task's tree into and out of a container as tar streams.

Docker endpoints may be remote, so nothing assumes a filesystem shared with the
container: the working copy goes in with ``put_archive`` and comes back with
``get_archive``. What comes back was written by an untrusted agent, so `extract_capped`
checks every member before anything reaches the disk and stops at the first
violation, leaving the host's working copy as it was.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from engine.errors import UnsafeChange

#: Owner of everything copied into the container (the image's ``agent`` user).
SANDBOX_UID = 1000


@dataclass(frozen=True)
class CollectLimits:
    """How much a container may hand back: total file bytes and number of entries."""

    max_bytes: int = 1 << 30
    max_files: int = 20_000


def pack_tree(root: Path, out: IO[bytes]) -> None:
    """Write ``root``'s contents (``.git`` included) as a tar to ``out``, owned by uid 1000.

    Symlinks are stored as symlinks; sockets, fifos and devices are left out.
    """
    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if not (info.isfile() or info.isdir() or info.issym()):
            return None
        info.uid = info.gid = SANDBOX_UID
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(root)):
            tar.add(root / entry, arcname=entry, recursive=True, filter=owned)


class _ChunkReader:
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


def _check_parents(staging: Path, rel: PurePosixPath, create: bool = True) -> None:
    """Refuse going through a symlink: every parent must be a real directory."""
    current = staging
    for part in rel.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UnsafeChange(
                f"the container's tree writes {rel} through the symlink "
                f"{current.relative_to(staging)}"
            )
        if create:
            current.mkdir(mode=0o755, exist_ok=True)


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path,
                  rel: PurePosixPath, top: str) -> None:
    target = staging / rel
    _check_parents(staging, rel)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    if member.isdir():
        target.mkdir(mode=0o755, exist_ok=True)
    elif member.issym():
        os.symlink(member.linkname, target)  # recreated as it is, never followed
    elif member.islnk():
        _copy_hardlink(staging, rel, _relative(member.linkname, top))
    else:
        _write_file(tar.extractfile(member), target, rel, member)


def _copy_hardlink(staging: Path, rel: PurePosixPath, source: PurePosixPath | None) -> None:
    """A hard link inside the tree becomes a copy of the (already written) regular file."""
    if source is not None:
        _check_parents(staging, source, create=False)
    origin = staging / source if source else staging
    if source is None or origin.is_symlink() or not origin.is_file():
        raise UnsafeChange(f"the container's tree holds a hard link {rel} to {source}, "
                           "which is not a file of the tree")
    shutil.copy2(origin, staging / rel, follow_symlinks=False)


def _write_file(src: IO[bytes] | None, target: Path, rel: PurePosixPath,
                member: tarfile.TarInfo) -> None:
    mode = member.mode & 0o777  # never setuid/setgid/sticky on the host
    if rel.parts[:2] == (".git", "hooks"):
        mode &= ~0o111  # a hook planted by the agent must never be runnable on the host
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as dst:
        if src is not None:
            shutil.copyfileobj(src, dst, 1 << 20)
    os.utime(target, (member.mtime, member.mtime))


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
    huge file is refused without being written. Only a fully accepted tree replaces
    ``dest``; on any refusal ``dest`` is untouched.

    Raises:
        UnsafeChange: an absolute or ``..`` path, a device or special file, a path through
            a symlink, or more than ``limits`` allow.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.collect-", dir=dest.parent))
    try:
        files = size = 0
        with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:
            for member in tar:
                rel = _relative(member.name, top)
                if rel is None:
                    continue
                files += 1
                size += member.size if member.isfile() else 0
                _check_member(member, rel, files, size, limits)
                _write_member(tar, member, staging, rel, top)
        _swap_contents(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_contents(staging: Path, dest: Path) -> None:
    for entry in os.scandir(dest):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    for entry in os.scandir(staging):
        os.rename(entry.path, dest / entry.name)
