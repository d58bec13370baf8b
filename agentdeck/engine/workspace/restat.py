"""Give a copied git index the stat data of a cloned checkout, so ``git status`` there
does not read every file.

A reflink clone of a checkout has the same content and mtimes as its source but new
inodes and ctimes; git's index records both, so with the source's index as it is every
entry would look changed and git would hash every file once. `restat_index` rewrites
the ctime, device, inode, uid and gid of each entry whose file still has the recorded
type, size and mtime (what a clone keeps); an entry that differs otherwise is left as
it is and git hashes that file, as it would anyway. Only index versions 2 and 3 are
read (what ``read-tree`` writes); extensions are kept unless they hold stat data.
"""
from __future__ import annotations

import hashlib
import os
import stat
import struct
from pathlib import Path

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
    if data[:4] != b"DIRC" or len(data) < 12 + hash_len:
        raise IndexMismatch("not a git index")
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3):
        raise IndexMismatch(f"index version {version}")
    pos, stats = 12, {}
    for _ in range(count):
        pos = _restat_entry(data, pos, workdir, hash_len, version, stats)
    end = len(data) - hash_len
    while pos < end:  # extensions: a signature and a length each
        signature, size = bytes(data[pos:pos + 4]), struct.unpack_from(">I", data, pos + 4)[0]
        if signature not in _SAFE_EXTENSIONS:
            raise IndexMismatch(f"index extension {signature!r}")
        pos += 8 + size
    if pos != end:
        raise IndexMismatch("truncated index")
    algorithm = "sha1" if hash_len == 20 else "sha256"
    data[end:] = hashlib.new(algorithm, data[:end]).digest()
    out.write_bytes(data)
    return stats


def _restat_entry(data: bytearray, pos: int, workdir: Path, hash_len: int,
                  version: int, stats: Stats) -> int:
    """Rewrite the entry at ``pos`` (a regular file's goes into ``stats``) and return
    where the next one starts."""
    fields = list(_FIXED.unpack_from(data, pos))
    flags_at = pos + _FIXED.size + hash_len
    (flags,) = struct.unpack_from(">H", data, flags_at)
    name_at = flags_at + 2 + (2 if version == 3 and flags & 0x4000 else 0)
    name_end = data.index(0, name_at)
    name = bytes(data[name_at:name_end])
    mode = fields[6]
    if stat.S_IFMT(mode) != stat.S_IFDIR | stat.S_IFLNK:  # not a gitlink (an empty dir)
        try:
            st = os.lstat(os.path.join(os.fsencode(workdir), name))
        except OSError as exc:
            raise IndexMismatch(f"{name!r} missing in the clone") from exc
        if (stat.S_IFMT(st.st_mode) == stat.S_IFMT(mode) and fields[9] == st.st_size & _MASK
                and fields[2:4] == _seconds(st.st_mtime_ns)):
            fields[0:2] = _seconds(st.st_ctime_ns)
            fields[4:6] = [st.st_dev & _MASK, st.st_ino & _MASK]
            fields[7:9] = [st.st_uid & _MASK, st.st_gid & _MASK]
            _FIXED.pack_into(data, pos, *fields)
            if stat.S_ISREG(mode):
                sha = data[pos + _FIXED.size:flags_at].hex()
                stats[os.fsdecode(name)] = (st, sha)
    return pos + (name_end - pos + 8) // 8 * 8


def _seconds(ns: int) -> list[int]:
    """Seconds and nanoseconds as the index stores them."""
    return [ns // 1_000_000_000 & _MASK, ns % 1_000_000_000]
