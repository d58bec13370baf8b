"""A base commit's tree as a tar stream, for runtimes that keep the tree as an image layer.

The tar is written from the object store (``ls-tree`` + ``cat-file --batch``), never by
``git archive``: that one applies the tree's own attributes (``export-ignore`` drops
files, ``export-subst`` rewrites them), and the layer must hold the commit's files as
they are. Everything is owned by the sandbox user; a fresh inner ``.git`` (one commit of
the base tree, agentdeck's settings) comes last, like in a local working copy.
"""
from __future__ import annotations

import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import IO

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace.copies import init_inner_repo
from agentdeck.engine.workspace.gitcmd import Git

#: The owner of every entry (the sandbox images' ``agent`` user).
TREE_UID = 1000
_MTIME = 1_700_000_000  # fixed: the same commit always makes the same bytes


def write_tree_tar(private: Git, base: str, out: IO[bytes]) -> None:
    """Write the files of ``base`` and an inner ``.git`` as one tar to ``out``."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_tree(private, base, tar)
        with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="layer-") as tmp:
            init_inner_repo(Path(tmp), (private, base), None)
            tar.add(Path(tmp) / ".git", arcname=".git", filter=_owned)


def _owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = TREE_UID
    info.uname = info.gname = ""
    return info


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = _owned(tarfile.TarInfo(name))
    info.type, info.mode, info.size, info.mtime = kind, mode, size, _MTIME
    return info


def _add_tree(private: Git, base: str, tar: tarfile.TarFile) -> None:
    """Every entry of ``base``: files and symlinks from one ``cat-file --batch``, a
    folder before its first entry, a submodule as an empty folder."""
    entries = [record.split("\t", 1) for record in
               private.iter_z("ls-tree", "-r", "-z", "--full-tree", base)]
    blobs = [(meta.split(), path) for meta, path in entries]
    request = b"".join(sha.encode() + b"\n" for (mode, _k, sha), _p in blobs if mode != "160000")
    argv = private.argv(["cat-file", "--batch"])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=private._env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err)
        assert proc.stdin is not None and proc.stdout is not None
        # Written by a thread: git answers as it reads, and both pipes could fill up.
        writer = threading.Thread(target=_feed, args=(proc.stdin, request), daemon=True)
        writer.start()
        try:
            _add_entries(tar, blobs, proc.stdout)
        finally:
            writer.join()
            proc.stdout.close()
            if proc.wait():
                err.seek(0)
                raise RepoError(f"git cat-file failed: {err.read().decode(errors='replace')}")


def _feed(stdin: IO[bytes], request: bytes) -> None:
    with stdin:
        stdin.write(request)


def _add_entries(tar: tarfile.TarFile, blobs: list[tuple[list[str], str]],
                 answer: IO[bytes]) -> None:
    made: set[str] = set()
    for (mode, _kind, _sha), path in blobs:
        _add_parents(tar, path, made)
        if mode == "160000":
            tar.addfile(_info(path, tarfile.DIRTYPE, 0o755))
            made.add(path)
            continue
        size = int(answer.readline().split()[2])
        if mode == "120000":
            link = _info(path, tarfile.SYMTYPE, 0o777)
            link.linkname = answer.read(size).decode("utf-8", "surrogateescape")
            tar.addfile(link)
        else:
            tar.addfile(_info(path, tarfile.REGTYPE, 0o755 if mode == "100755" else 0o644,
                              size), _Exact(answer, size))
        answer.read(1)  # the newline after the content


class _Exact:
    """``size`` bytes of ``stream`` as a file for ``tarfile.addfile``."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream, self._left = stream, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._stream.read(n)
        self._left -= len(data)
        return data


def _add_parents(tar: tarfile.TarFile, path: str, made: set[str]) -> None:
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        if folder not in made:
            tar.addfile(_info(folder, tarfile.DIRTYPE, 0o755))
            made.add(folder)
