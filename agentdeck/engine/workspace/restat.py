"""Give a copied git index the stat data of a cloned checkout, so ``git status`` there
does not read every file.

A reflink clone of a checkout has the same content and mtimes as its source but new
inodes and ctimes; git's index records both, so with the source's index as it is every
entry would look changed and git would hash every file once. `restat_index` rewrites
the ctime, device, inode, uid and gid of each entry whose file still has the recorded
type, size and mtime (what a clone keeps); an entry that differs otherwise is left as
it is and git hashes that file, as it would anyway. Only index versions 2 and 3 are
read (what ``read-tree`` writes); extensions are kept unless they hold stat data.

The same reading gives a fresh checkout its stat manifest (`checkout_stats`): git's
index already holds each file's stat data and blob id, so the tree need not be listed
again. Our own rather than dulwich's index reader: that is a whole git implementation
to install for the stat fields of one file format, which must also be rewritten here.
"""
from __future__ import annotations

import hashlib
import os
import stat
import struct
from pathlib import Path
from typing import NamedTuple

_FIXED = struct.Struct(">10I")  # ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
_SAFE_EXTENSIONS = {b"TREE", b"EOIE", b"IEOT"}  # no stat data in them
_MASK = 0xFFFFFFFF


class IndexMismatch(Exception):
    """The index cannot be carried over to the clone (a file is missing, or a format
    this module does not read)."""


Stats = dict[str, tuple[os.stat_result, str]]


def restat_index(source: Path, workdir: Path, out: Path, hash_len: int) -> Stats:
    """Write ``out``: the index ``source`` with the stat data of ``workdir``'s files.

    Args:
        hash_len: Bytes of an object id (20: SHA-1, 32: SHA-256).

    Returns:
        Each regular file whose entry was carried over: its stat and blob id (the stat
        manifest of the copy, without listing the tree again).

    Raises:
        IndexMismatch: a file of the index is missing in ``workdir``, or the index is
            not one this module rewrites (the caller then builds the copy otherwise).
    """
    data = bytearray(source.read_bytes())
    entries, end = _parse(data, hash_len)
    stats: Stats = {}
    root = os.fsencode(workdir)
    for entry in entries:
        if entry.gitlink:
            continue
        try:
            st = os.lstat(os.path.join(root, entry.name))
        except OSError as exc:
            raise IndexMismatch(f"{entry.name!r} missing in the clone") from exc
        if entry.matches(st):
            fields = list(entry.fields)
            fields[0:2] = _seconds(st.st_ctime_ns)
            fields[4:6] = [st.st_dev & _MASK, st.st_ino & _MASK]
            fields[7:9] = [st.st_uid & _MASK, st.st_gid & _MASK]
            _FIXED.pack_into(data, entry.pos, *fields)
            if entry.regular:
                stats[os.fsdecode(entry.name)] = (st, entry.sha)
    algorithm = "sha1" if hash_len == 20 else "sha256"
    data[end:] = hashlib.new(algorithm, data[:end]).digest()
    out.write_bytes(data)
    return stats


def checkout_stats(index: Path, workdir: Path, hash_len: int) -> Stats:
    """The stat and blob id of each regular file of ``workdir`` still as git recorded it
    in ``index`` when it checked the file out (type, size, mtime): the stat manifest of
    a fresh checkout without listing the tree again. Files absent (outside a sparse
    cone) or not as recorded (a "racily clean" entry git smudged) are left out: the
    capture then reads them.

    Raises:
        IndexMismatch: not an index this module reads (the caller lists the tree).
    """
    stats: Stats = {}
    root = os.fsencode(workdir)
    for entry in _parse(index.read_bytes(), hash_len)[0]:
        if not entry.regular:
            continue
        try:
            st = os.lstat(os.path.join(root, entry.name))
        except OSError:
            continue
        if entry.matches(st):
            stats[os.fsdecode(entry.name)] = (st, entry.sha)
    return stats


class _Entry(NamedTuple):
    pos: int                      # where its fixed fields start in the index
    fields: tuple[int, ...]       # `_FIXED`
    sha: str
    name: bytes

    @property
    def gitlink(self) -> bool:
        return stat.S_IFMT(self.fields[6]) == stat.S_IFDIR | stat.S_IFLNK

    @property
    def regular(self) -> bool:
        return stat.S_ISREG(self.fields[6])

    def matches(self, st: os.stat_result) -> bool:
        """The file has the type, size and mtime the entry recorded."""
        return (stat.S_IFMT(st.st_mode) == stat.S_IFMT(self.fields[6])
                and self.fields[9] == st.st_size & _MASK
                and list(self.fields[2:4]) == _seconds(st.st_mtime_ns))


def _parse(data: bytes | bytearray, hash_len: int) -> tuple[list[_Entry], int]:
    """The entries of an index (versions 2 and 3) and where its checksum starts.

    Raises:
        IndexMismatch: another version, an extension that holds stat data, or a
            truncated file.
    """
    if data[:4] != b"DIRC" or len(data) < 12 + hash_len:
        raise IndexMismatch("not a git index")
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3):
        raise IndexMismatch(f"index version {version}")
    pos, entries = 12, []
    for _ in range(count):
        fields = _FIXED.unpack_from(data, pos)
        flags_at = pos + _FIXED.size + hash_len
        (flags,) = struct.unpack_from(">H", data, flags_at)
        name_at = flags_at + 2 + (2 if version == 3 and flags & 0x4000 else 0)
        name_end = data.index(0, name_at)
        entries.append(_Entry(pos, fields, bytes(data[pos + _FIXED.size:flags_at]).hex(),
                              bytes(data[name_at:name_end])))
        pos += (name_end - pos + 8) // 8 * 8
    end = len(data) - hash_len
    while pos < end:  # extensions: a signature and a length each
        signature, size = bytes(data[pos:pos + 4]), struct.unpack_from(">I", data, pos + 4)[0]
        if signature not in _SAFE_EXTENSIONS:
            raise IndexMismatch(f"index extension {signature!r}")
        pos += 8 + size
    if pos != end:
        raise IndexMismatch("truncated index")
    return entries, end


def _seconds(ns: int) -> list[int]:
    """Seconds and nanoseconds as the index stores them."""
    return [ns // 1_000_000_000 & _MASK, ns % 1_000_000_000]
