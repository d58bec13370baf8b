"""Reflink task copies: where the data dir's filesystem shares blocks between files
(btrfs, XFS), a task copy is a clone of a pristine checkout of its base tree.

The pristine checkout (a template) is made once per (private git dir, tree) by the
usual checkout path, under ``<home>/templates``, which no sandbox shows; later tasks on
the same tree clone it with ``cp --reflink=always`` (copy-on-write: a clone shares no
writable state with it; never hard links) and get a copy of its index whose stat data
is that of the clone (`agentdeck.engine.workspace.restat`). Any failure leaves the
caller to build the copy by checkout, as on a filesystem without reflinks.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

from agentdeck.engine.errors import RepoError
from agentdeck.engine.workspace import sparse
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.repo import remove_tree
from agentdeck.engine.workspace.restat import IndexMismatch, Stats, restat_index
from agentdeck.engine.workspace.space import tree_bytes

FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_support: dict[int, bool] = {}  # st_dev -> whether a probe clone worked there


def supports_reflink(folder: Path) -> bool:
    """Whether files in ``folder`` (created if missing) can be cloned, probed once per
    device with an ``FICLONE`` of a small file."""
    folder.mkdir(parents=True, exist_ok=True)
    device = os.stat(folder).st_dev
    if device not in _support:
        _support[device] = _probe(folder)
    return _support[device]


def _probe(folder: Path) -> bool:
    with tempfile.TemporaryDirectory(dir=folder, prefix=".reflink-probe-") as tmp:
        source, clone = Path(tmp) / "source", Path(tmp) / "clone"
        source.write_bytes(b"\0" * 8192)
        with source.open("rb") as src, clone.open("wb") as dst:
            try:
                fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            except OSError:  # EOPNOTSUPP (ext4), EXDEV, EINVAL...: no reflinks here
                return False
    return True


class Templates:
    """The templates under ``<home>/templates/<private dir>/<tree>`` (``files``, ``index``)."""

    def __init__(self, home: Path) -> None:
        self.root = home / "templates"

    def clone(self, private: Git, base: str, workdir: Path, index: Path) -> Stats | None:
        """Make ``workdir`` (absent) a clone of ``base``'s template and ``index`` its
        index; returns the stat and blob id of its files (`restat_index`), ``None``
        (``workdir`` absent again) where that cannot be done."""
        if not supports_reflink(workdir.parent):
            return None
        try:
            template = self._ensure(private, base)
            subprocess.run(["cp", "-R", "--no-dereference", "--preserve=mode,timestamps",
                            "--reflink=always", "--no-target-directory",
                            template / "files", workdir], check=True, capture_output=True)
            return restat_index(template / "index", workdir, index, hash_len=len(base) // 2)
        except (OSError, subprocess.CalledProcessError, IndexMismatch, RepoError):
            remove_tree(workdir)
            return None

    def _ensure(self, private: Git, base: str) -> Path:
        """The template of ``base``'s tree, checked out now if there is none (built aside
        and renamed into place: a racing task uses the one that won)."""
        tree = private.out("rev-parse", f"{base}^{{tree}}")
        template = self._folder(private) / tree
        if template.is_dir():
            return template
        template.parent.mkdir(parents=True, exist_ok=True)
        building = template.parent / f".{tree}.{uuid.uuid4().hex}.tmp"
        try:
            (building / "files").mkdir(parents=True)
            checkout = Git(git_dir=private.git_dir, work_tree=building / "files",
                           cwd=building / "files").with_env(GIT_INDEX_FILE=building / "index")
            sparse.checkout(checkout, base, ())
            building.rename(template)
        except OSError:
            if not template.is_dir():
                raise
        finally:
            remove_tree(building)
        return template

    def _folder(self, private: Git) -> Path:
        assert private.git_dir is not None
        return self.root / private.git_dir.name.removesuffix(".git")

    def bytes_of(self, private_dir: Path, seen: set[tuple[int, int]]) -> int:
        """Allocated bytes of the templates of one private git dir (see `space`)."""
        return tree_bytes(self.root / private_dir.name.removesuffix(".git"), seen)

    def remove_unused(self, private: Git, used_trees: set[str]) -> None:
        """Remove the templates of ``private`` whose tree is not in ``used_trees``, and
        leftovers of interrupted builds. Each is renamed away first, so a clone running
        meanwhile fails whole (and falls back) instead of copying part of it."""
        folder = self._folder(private)
        if not folder.is_dir():
            return
        for name in os.listdir(folder):
            if name in used_trees:
                continue
            trash = folder / f".{name.lstrip('.')}.{uuid.uuid4().hex}.removing"
            try:
                (folder / name).rename(trash)
            except FileNotFoundError:
                continue
            remove_tree(trash)
