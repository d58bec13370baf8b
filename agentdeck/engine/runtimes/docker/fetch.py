"""Bring the listed changed files of a task container back as one tar (``work/<path>``).

From the writable layer on this machine the files are read directly (each folder opened
no-follow relative to its parent, each file ``O_NOFOLLOW``, hard links stored once); from a
remote daemon each path comes with its own ``get_archive`` (a hard link the container's
listing names is written as a link to the copy already fetched). The tar then goes through
`agentdeck.engine.runtimes.docker.archive.extract_capped` like a whole tree did before:
every member checked, setuid bits dropped, links never followed, caps before data.
"""
from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from agentdeck.engine.errors import UnsafeChange
from agentdeck.engine.runtimes.docker.archive import CollectLimits, ChunkReader
from agentdeck.engine.workspace import safefs

TOP = "work"


def tar_from_upper(work: Path, paths: list[str], out: IO[bytes]) -> None:
    """Write ``paths`` (files and symlinks below ``work``) as a tar to ``out``; ``work``
    does not exist when the agent changed nothing in /work."""
    first: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if not paths:
            return
        with safefs.opened(safefs.open_dir(os.fspath(work))) as root:
            for path in paths:
                _add_upper(tar, root, path, first)


def _add_upper(tar: tarfile.TarFile, root: int, path: str,
               first: dict[tuple[int, int], str]) -> None:
    parent, _, name = path.rpartition("/")
    with safefs.opened(safefs.open_parts(root, parent.split("/") if parent else [])) as fd:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        info = tarfile.TarInfo(f"{TOP}/{path}")
        info.mode, info.mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        if stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=fd)
            tar.addfile(info)
            return
        key = (st.st_dev, st.st_ino)
        if key in first:
            info.type, info.linkname = tarfile.LNKTYPE, first[key]
            tar.addfile(info)
            return
        first[key] = info.name
        with safefs.opened(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                   dir_fd=fd)) as file_fd:
            info.size = os.fstat(file_fd).st_size
            with os.fdopen(os.dup(file_fd), "rb") as data:
                tar.addfile(info, data)


def tar_from_daemon(container: Any, workdir: str, paths: list[str], out: IO[bytes],
                    limits: CollectLimits, links: Mapping[str, str] | None = None) -> None:
    """Write ``paths`` as a tar to ``out``, one ``get_archive`` each; the byte cap is
    checked on each header before its data is read.

    ``links`` (from the container's listing): the paths that name the file of an earlier
    path, written as hard links to it without a fetch; then every other path must come
    back as one entry, as the listing said (not a folder with entries below it).
    """
    size = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            if links is not None and path in links:
                link = tarfile.TarInfo(f"{TOP}/{path}")
                link.type, link.linkname = tarfile.LNKTYPE, f"{TOP}/{links[path]}"
                tar.addfile(link)
                continue
            chunks, _ = container.get_archive(f"{workdir}/{path}")
            try:
                with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as one:
                    for member in one:
                        size += member.size if member.isfile() else 0
                        if size > limits.max_bytes:
                            raise UnsafeChange(_over_bytes(limits))
                        below = member.name.partition("/")[2]  # (a folder's entries)
                        if below and links is not None:
                            raise UnsafeChange(f"the container's listing of {workdir} names "
                                               f"{path} as a file, but it holds {below}")
                        member.name = f"{TOP}/{path}" + (f"/{below}" if below else "")
                        if member.islnk():  # its target is named below the folder only
                            raise UnsafeChange(f"the container's tree holds a hard link "
                                               f"in {path} that cannot be copied back alone")
                        tar.addfile(member, one.extractfile(member) if member.isfile() else None)
            finally:
                chunks.close()


def _over_bytes(limits: CollectLimits) -> str:
    return (f"the agent's change is larger than {limits.max_bytes} bytes; nothing was "
            "copied back")


def chunks_of(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    while chunk := spool.read(1 << 20):
        yield chunk
