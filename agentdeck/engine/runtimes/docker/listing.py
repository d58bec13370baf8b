"""Which paths of /work changed, listed inside the container when the agent exits.

On a remote daemon (or a local one whose layers this user cannot read) the writable
layer is out of reach and the changes API costs about 0.7 ms per entry, ignored ones
included. So the container's command is a small wrapper (`listing_argv`): it runs the
agent, and whatever its exit, one ``find`` of the image (``/usr/bin/find``, not writable
by the sandbox user) writes type, ctime, size, device:inode and path of every entry of
/work into `LISTING`; collect fetches that one file (`read_listing`).

A path changed when its ctime is not older than `STAMP`'s (written by the daemon before
anything is copied in; an unprivileged process cannot set a ctime back, and a write, a
chmod, a rename, a new name all set it), or when it lies below a folder the base does not
hold (a renamed folder's entries keep their ctimes on some storage drivers). Removed
paths are the base's entries missing from a listed folder. The listing is written where the agent could have written it too, so it
only chooses which paths to fetch: the fetched files still go through every check of
`agentdeck.engine.runtimes.docker.archive.extract_capped`. A listing that is missing
(the container was killed first, an older container), malformed or too large is not
used: collect asks the changes API instead.
"""
from __future__ import annotations

import logging
import tarfile
from typing import Any, NamedTuple

import docker.errors

from agentdeck.engine.runtimes.base import IgnoreRules
from agentdeck.engine.runtimes.docker.archive import ChunkReader
from agentdeck.engine.runtimes.docker.changes import Entry, Lister

log = logging.getLogger(__name__)

#: Written (root-owned, read-only) into the container before the tree is copied in.
STAMP = "/tmp/.agentdeck-stamp"
#: Written by the wrapper when the agent exits.
LISTING = "/tmp/.agentdeck-listing"
#: A larger listing is not read (it names ~10 000 entries per MiB).
MAX_LISTING = 64 << 20
_FORMAT = r"%y %C@ %s %D:%i %p\0"
_KINDS = {"f": "file", "l": "file", "d": "dir"}
_WRAPPER = (
    "trap 'kill -TERM $pid 2>/dev/null' TERM INT HUP\n"
    '"$@" & pid=$!\n'
    "wait $pid; code=$?\n"
    "while kill -0 $pid 2>/dev/null; do wait $pid; code=$?; done\n"
    "kill -KILL -1 2>/dev/null\n"  # what the agent left running cannot change the listing
    f"rm -rf {LISTING}\n"
    f"/usr/bin/find {STAMP} /work -path /work/.git -prune -o -printf '{_FORMAT}' "
    f"> {LISTING} 2>/dev/null || rm -f {LISTING}\n"
    "exit $code\n")


def listing_argv(argv: tuple[str, ...] | list[str]) -> list[str]:
    """``argv`` run by the wrapper that lists /work when it exits (its exit code is
    ``argv``'s; a stop signal is passed on to it)."""
    return ["sh", "-c", _WRAPPER, "agentdeck-agent", *argv]


def stamp_member() -> tarfile.TarInfo:
    """`STAMP` as a tar member for ``put_archive`` into /tmp (root's, read-only: the
    agent cannot touch it, so its ctime stays the time it was copied in)."""
    info = tarfile.TarInfo(STAMP.rpartition("/")[2])
    info.mode, info.uid, info.gid = 0o444, 0, 0
    return info


class _Record(NamedTuple):
    kind: str                     # find's %y letter
    ctime: int                    # ns
    size: int
    key: tuple[int, int]


class Listing:
    """A parsed listing of /work: ``records`` by path below /work (``""`` for /work)."""

    def __init__(self, stamp: int, records: dict[str, _Record]) -> None:
        self._stamp, self._records = stamp, records
        self._children: dict[str, list[str]] = {}
        for path in records:
            if path:
                parent, _, name = path.rpartition("/")
                self._children.setdefault(parent + "/" if parent else "", []).append(name)

    def lister(self, rules: IgnoreRules) -> Lister:
        """A `Lister` of the changed folders, against the base tree of ``rules``.

        The base is asked only about changed folders (one ``ls-tree`` each): an entry
        below a folder the base lacks (made or renamed by the agent) is new whatever its
        ctime, any other entry changed when its ctime is not older than the stamp.
        """
        changed: set[str] = set()
        fresh: set[str] = set()  # folders the base lacks
        dirty: set[str] = {""}  # folders with something changed at or below them
        for path, record in self._records.items():  # (each folder before its entries)
            parent = path.rpartition("/")[0]
            below_fresh = bool(path) and parent in fresh
            if not path or not (below_fresh or record.ctime >= self._stamp):
                continue
            changed.add(path)
            if record.kind == "d" and (below_fresh or _base_kind(rules, path) is not True):
                fresh.add(path)
            folder = path if record.kind == "d" else parent
            while folder not in dirty:
                dirty.add(folder)
                folder = folder.rpartition("/")[0]

        def listdir(prefix: str) -> list[Entry]:
            names = self._children.get(prefix, [])
            entries = [self._entry(prefix + name, name, rules) for name in names
                       if prefix + name in changed or prefix + name in dirty]
            present = set(names)
            entries += [Entry(name, "removed") for name in sorted(rules.entries(prefix))
                        if name not in present]
            return entries
        return listdir

    def _entry(self, path: str, name: str, rules: IgnoreRules) -> Entry:
        record = self._records[path]
        kind = _KINDS.get(record.kind, "other")
        if kind == "dir":
            return Entry(name, "dir", opaque=_base_kind(rules, path) is False)
        return Entry(name, kind, record.size, record.key if record.kind == "f" else None)

    def links(self, paths: list[str]) -> dict[str, str]:
        """Of ``paths``, those whose file an earlier one of them names: path -> that one."""
        first: dict[tuple[int, int], str] = {}
        links = {}
        for path in paths:
            record = self._records.get(path)
            if record is None or record.kind != "f":
                continue
            if record.key in first:
                links[path] = first[record.key]
            else:
                first[record.key] = path
        return links


def _base_kind(rules: IgnoreRules, path: str) -> bool | None:
    """Whether the base holds ``path`` as a folder (True), a file (False), or not at all."""
    parent, _, name = path.rpartition("/")
    return rules.entries(parent + "/" if parent else "").get(name)


def read_listing(container: Any, workdir: str = "/work") -> Listing | None:
    """The listing the container's wrapper wrote; None when there is none to trust the
    choice of paths to (missing, malformed, over `MAX_LISTING`), said in the log."""
    try:
        data = _fetch(container)
    except docker.errors.APIError as exc:  # (NotFound: it ended before the wrapper wrote it)
        log.info("%s left no listing of %s (%s): asking the changes API", container.name,
                 workdir, exc)
        return None
    try:
        if data is None:
            raise ValueError(f"over {MAX_LISTING} bytes or not a file")
        return parse_listing(data, workdir)
    except ValueError as exc:
        log.warning("the listing of %s in %s is not used (%s): asking the changes API",
                    workdir, container.name, exc)
        return None


def _fetch(container: Any) -> bytes | None:
    """`LISTING`'s bytes; None when it is not a file or too large (never read whole)."""
    chunks, stat = container.get_archive(LISTING)
    try:
        if int(stat.get("size", 0)) > MAX_LISTING:
            return None
        with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
            member = tar.next()
            if member is None or not member.isfile() or member.size > MAX_LISTING:
                return None
            source = tar.extractfile(member)
            assert source is not None
            return source.read(MAX_LISTING + 1)
    except tarfile.TarError:
        return None
    finally:
        chunks.close()


def parse_listing(data: bytes, workdir: str = "/work") -> Listing:
    """Parse the wrapper's listing of ``workdir``.

    Raises:
        ValueError: the listing is truncated or names anything it cannot hold: a path
            outside ``workdir`` or with ``.``/``..``/empty parts, the top-level ``.git``,
            a path twice, a path whose folder was not listed before it.
    """
    if not data.endswith(b"\0"):
        raise ValueError("truncated")
    lines = data[:-1].split(b"\0")
    stamp = _record(lines[0])
    if stamp[1] != STAMP or stamp[0].kind != "f":
        raise ValueError("the stamp is not its first entry")
    records: dict[str, _Record] = {}
    top = workdir.rstrip("/")
    for line in lines[1:]:
        record, path = _record(line)
        if path != top and not path.startswith(top + "/"):
            raise ValueError(f"{path!r} is outside {top}")
        rel = path[len(top) + 1:]
        parts = rel.split("/") if rel else []
        if any(part in ("", ".", "..") for part in parts) or parts[:1] == [".git"]:
            raise ValueError(f"{path!r} is not a path it can hold")
        parent = rel.rpartition("/")[0]
        if rel in records or (rel and (parent not in records or records[parent].kind != "d")):
            raise ValueError(f"{path!r} is listed twice or before its folder")
        records[rel] = record
    if "" not in records:
        raise ValueError(f"{top} is not listed")
    return Listing(stamp[0].ctime, records)


def _record(line: bytes) -> tuple[_Record, str]:
    try:
        kind, ctime, size, devino, path = line.decode("utf-8", "surrogateescape").split(" ", 4)
        seconds, _, fraction = ctime.partition(".")
        dev, _, ino = devino.partition(":")
        ns = int(seconds) * 10**9 + int((fraction + "0" * 9)[:9])
        return _Record(kind, ns, int(size), (int(dev), int(ino))), path
    except ValueError as exc:
        raise ValueError(f"a malformed entry: {line[:80]!r}") from exc
