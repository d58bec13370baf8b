"""What must hold before accept writes to the user's work tree; each check refuses with
nothing changed.

Git's own checkout protects tracked files with local changes but overwrites files the user
ignores, and takes its attributes from the tree it checks out. So before any byte is
written: every path the checkout touches is looked at with ``lstat`` (no ignore rules: a
file the user keeps there is theirs whatever the rules say), and the ``filter`` attribute
of every written file must be the same under the change's attributes as under the base's
wherever one of the user's configured filter drivers is named.
"""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agentdeck.engine.errors import RepoError, UnsafeChange
from agentdeck.engine.workspace.gitcmd import Git
from agentdeck.engine.workspace.names import escape_name
from agentdeck.engine.workspace.repo import UserRepo

_ATTRIBUTES = ".gitattributes"
_SYMLINK, _GITLINK = "120000", "160000"
_MAX_NAMED = 20


@dataclass(frozen=True)
class Checkout:
    """The switch of the user's work tree from ``old`` to ``new``.

    Attributes:
        old: The commit checked out now (the user's HEAD).
        new: The tree or commit to check out.
        tracked: ``path -> (mode, sha)`` of every entry of ``old``.
        writes: ``path -> (mode, sha)`` of every path whose entry differs; ``None`` for
            a path the checkout removes.
    """

    old: str
    new: str
    tracked: dict[str, tuple[str, str]]
    writes: dict[str, tuple[str, str] | None]

    @classmethod
    def between(cls, git: Git, old: str, new: str) -> "Checkout":
        """Read both sides from ``git`` (the private dir, which sees every object)."""
        tracked = {}
        for record in git.iter_z("ls-tree", "-r", "-z", "--full-tree", old):
            meta, path = record.split("\t", 1)
            mode, _kind, sha = meta.split(" ")
            tracked[path] = (mode, sha)
        writes: dict[str, tuple[str, str] | None] = {}
        records = git.iter_z("diff-tree", "-r", "-z", "--raw", "--no-renames", old, new)
        for header in records:
            _old_mode, new_mode, _old_sha, new_sha, _code = header.lstrip(":").split(" ")
            writes[next(records)] = None if new_mode == "000000" else (new_mode, new_sha)
        return cls(old, new, tracked, writes)

    def folders(self) -> set[str]:
        """Every folder ``old`` has (the parents of its entries)."""
        return {path[:i] for path in self.tracked for i, c in enumerate(path) if c == "/"}


def check_nothing_in_the_way(root: Path, checkout: Checkout) -> None:
    """Refuse when the checkout would overwrite or remove anything in ``root`` that
    ``old`` does not track: a file, a link, or a folder holding such things.

    Raises:
        RepoError: naming each such path (the repo is untouched).
    """
    folders = checkout.folders()
    found = sorted({hit for path, entry in checkout.writes.items()
                    for hit in _in_the_way(root, path, entry, checkout, folders)})
    if found:
        named = ", ".join(found[:_MAX_NAMED]) + (
            f" and {len(found) - _MAX_NAMED} more" if len(found) > _MAX_NAMED else "")
        raise RepoError(
            f"accepting would overwrite or remove files in {root} that are not committed "
            f"there (untracked or ignored): {named}. Nothing was changed: move them away or "
            "commit them, then accept again, or accept as a branch.")


def _in_the_way(root: Path, path: str, entry: tuple[str, str] | None, checkout: Checkout,
                folders: set[str]) -> Iterator[str]:
    """What stands at ``path`` or at one of its parent folders that is not ``old``'s."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        st = _lstat(root / parent)
        if st is None:
            return  # nothing below a missing folder
        if not stat.S_ISDIR(st.st_mode):
            # A tracked file or link that this checkout replaces by a folder is fine.
            if not (_matches(st, checkout.tracked.get(parent)) and parent in checkout.writes):
                yield escape_name(parent)
            return
    st = _lstat(root / path)
    if st is None:
        return
    tracked = checkout.tracked.get(path)
    if stat.S_ISDIR(st.st_mode) and (path in folders or _matches(st, tracked)):
        if entry is not None and entry[0] != _GITLINK:  # a file replaces the folder
            yield from _untracked_inside(root, path, checkout, folders)
    elif not _matches(st, tracked):
        yield escape_name(path) + ("/" if stat.S_ISDIR(st.st_mode) else "")


def _untracked_inside(root: Path, folder: str, checkout: Checkout,
                      folders: set[str]) -> Iterator[str]:
    """The first thing inside ``folder`` that ``old`` does not track, if any."""
    for entry in os.scandir(root / folder):
        path = f"{folder}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if path not in folders:
                yield escape_name(path) + "/"
                return
            inner = next(_untracked_inside(root, path, checkout, folders), None)
            if inner is not None:
                yield inner
                return
        elif not _matches(entry.stat(follow_symlinks=False), checkout.tracked.get(path)):
            yield escape_name(path)
            return


def _matches(st: os.stat_result, tracked: tuple[str, str] | None) -> bool:
    """Whether what is on disk is the kind of entry ``old`` tracks there (content is
    git's own check)."""
    if tracked is None:
        return False
    if tracked[0] == _SYMLINK:
        return stat.S_ISLNK(st.st_mode)
    if tracked[0] == _GITLINK:
        return stat.S_ISDIR(st.st_mode)
    return stat.S_ISREG(st.st_mode)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def check_filters(repo: UserRepo, private: Git, checkout: Checkout) -> None:
    """Refuse when the change's ``.gitattributes`` would make one of the user's filter
    drivers run (or stop running) on a written file, compared with the base's attributes.

    Attributes are read by the user's own git (so their ``info/attributes`` and
    ``core.attributesFile`` count) from a throwaway index holding only the attribute
    files of each side: nothing is checked out and no filter runs.

    Raises:
        UnsafeChange: naming the paths, the filters, and the attribute files to exclude.
    """
    drivers = repo.config.filter_drivers()
    written = sorted(p for p, entry in checkout.writes.items() if entry is not None)
    if not drivers or not written:
        return
    new_side = {**checkout.tracked, **checkout.writes}
    before = _filter_of(repo, private, _attribute_files(checkout.tracked), written)
    after = _filter_of(repo, private, _attribute_files(new_side), written)
    changed = [p for p in written if before[p] != after[p] and {before[p], after[p]} & drivers]
    if changed:
        named = ", ".join(f"{escape_name(p)} ({_said(before[p])} -> {_said(after[p])})"
                          for p in changed[:_MAX_NAMED])
        files = sorted(_attribute_files(checkout.writes, deleted=True))
        raise UnsafeChange(
            f"refusing to apply: the change's attributes would switch your git filters on "
            f"files it writes: {named}. Exclude {', '.join(map(escape_name, files))} to "
            "accept the rest with your attributes, or accept as a branch.")


def _said(value: str) -> str:
    return f"filter {value}" if value not in ("unspecified", "unset", "set") else "no filter"


def _attribute_files(entries: dict[str, tuple[str, str] | None],
                     deleted: bool = False) -> dict[str, tuple[str, str]]:
    """The ``.gitattributes`` entries among ``entries`` (links too: the throwaway index
    holds them as the real one would, and git treats them as it always does); with
    ``deleted`` also those mapped to ``None`` (removed)."""
    return {p: e for p, e in entries.items()  # type: ignore[misc]
            if p.rsplit("/", 1)[-1] == _ATTRIBUTES and (e is not None or deleted)}


def _filter_of(repo: UserRepo, private: Git, attribute_files: dict[str, tuple[str, str]],
               paths: list[str]) -> dict[str, str]:
    """The ``filter`` attribute of each path when ``attribute_files`` are the repo's."""
    assert private.git_dir is not None
    with tempfile.TemporaryDirectory(dir=private.git_dir, prefix="attrs-") as tmp:
        # A split index would make git write a shared index into the user's .git.
        git = repo.git.with_config("core.splitIndex=false").with_env(
            GIT_INDEX_FILE=Path(tmp) / "index",
            GIT_ALTERNATE_OBJECT_DIRECTORIES=private.git_dir / "objects")
        listing = b"".join(os.fsencode(f"{mode} {sha}\t{path}") + b"\0"
                           for path, (mode, sha) in attribute_files.items())
        git.run("update-index", "-z", "--index-info", input=listing)
        out = git.run("check-attr", "--cached", "-z", "--stdin", "filter",
                      input=b"".join(os.fsencode(p) + b"\0" for p in paths)).stdout
    fields = [os.fsdecode(f) for f in out.split(b"\0")]
    return {fields[i]: fields[i + 2] for i in range(0, len(fields) - 2, 3)}
