"""Splitting a git patch into per-file pieces, fast, without parsing hunks.

Opening a 500-file review must not wait for every hunk to be parsed: `split_patch` only
scans the file headers and counts ``+``/``-`` lines with `str.count`; the hunks of one
file are parsed (with `unidiff`) when that file is shown, see `agentdeck.desktop.review.diff.rows`.
"""
from __future__ import annotations

import base64
import enum
import re
import zlib
from dataclasses import dataclass

_BINARY_BLOCK = re.compile(r"^(literal|delta) (\d+)$", re.MULTILINE)
_C_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b",
              "f": "\f", "r": "\r", "v": "\v"}


class FileStatus(str, enum.Enum):
    """What happened to one file, as git's extended headers say."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    BINARY = "binary"
    MODE = "mode"


@dataclass(frozen=True, slots=True)
class FilePatch:
    """One file's part of a patch plus what its headers and line counts say.

    Attributes:
        path: the file's path after the change (before it, for a deleted file).
        old_path: the path before the change ("" for an added file).
        status: the headline change; a binary rename is RENAMED with ``binary`` set.
        added: number of ``+`` lines.
        removed: number of ``-`` lines.
        binary: True for a binary file (no text hunks).
        binary_size: size in bytes of the new content (old content when deleted).
        old_mode: file mode before, when it changed ("" otherwise).
        new_mode: file mode after, when it changed or the file is new.
        text: this file's slice of the patch, header included.
    """

    path: str
    old_path: str
    status: FileStatus
    added: int
    removed: int
    binary: bool
    binary_size: int | None
    old_mode: str
    new_mode: str
    text: str


def split_patch(patch: str) -> list[FilePatch]:
    """Cut a ``git diff`` output into `FilePatch` objects, one per file, in patch order."""
    starts = [0] if patch.startswith("diff --git ") else []
    at = patch.find("\ndiff --git ")
    while at >= 0:  # str.find beats a MULTILINE regex several times over on megabytes
        starts.append(at + 1)
        at = patch.find("\ndiff --git ", at + 1)
    ends = starts[1:] + [len(patch)]
    return [_file_patch(patch[a:b]) for a, b in zip(starts, ends)]


def _file_patch(text: str) -> FilePatch:
    hunks_at = text.find("\n@@")
    fields = _header_fields(text if hunks_at < 0 else text[:hunks_at])
    old_path, path = fields["old"], fields["new"]
    deleted = "deleted file mode" in fields
    added_file = "new file mode" in fields
    binary = "binary" in fields
    status = _status(fields, deleted, added_file, binary)
    return FilePatch(
        path=old_path if deleted else path,
        old_path="" if added_file else old_path,
        status=status,
        # Hunks start with "\n@@", so every changed line sits right after a newline.
        added=0 if hunks_at < 0 else text.count("\n+", hunks_at),
        removed=0 if hunks_at < 0 else text.count("\n-", hunks_at),
        binary=binary,
        binary_size=_binary_size(text, deleted) if binary else None,
        old_mode=fields.get("old mode", fields.get("deleted file mode", "")),
        new_mode=fields.get("new mode", fields.get("new file mode", "")),
        text=text,
    )


def _status(fields: dict[str, str], deleted: bool, added: bool, binary: bool) -> FileStatus:
    if added:
        return FileStatus.ADDED
    if deleted:
        return FileStatus.DELETED
    if "rename to" in fields or fields["old"] != fields["new"]:
        return FileStatus.RENAMED
    if binary:
        return FileStatus.BINARY
    if "old mode" in fields and "---" not in fields:
        return FileStatus.MODE
    return FileStatus.MODIFIED


_KEYS_BY_WORD = {"old": ("old mode",), "new": ("new mode", "new file mode"),
                 "deleted": ("deleted file mode",), "rename": ("rename from", "rename to"),
                 "copy": ("copy from", "copy to"), "---": ("---",), "+++": ("+++",)}


def _header_fields(header: str) -> dict[str, str]:
    """Map git's extended header keywords to their values, plus "old"/"new" paths."""
    lines = header.split("\n")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line.startswith(("GIT binary patch", "Binary files")):
            fields["binary"] = ""
            break  # what follows is binary data
        for key in _KEYS_BY_WORD.get(line.partition(" ")[0], ()):
            if line.startswith(key + " "):
                fields[key] = line[len(key) + 1:]
    old, new = _paths_of_git_line(lines[0])
    old = _side_path(fields, "---", "rename from", "copy from", default=old)
    new = _side_path(fields, "+++", "rename to", "copy to", default=new)
    fields["old"], fields["new"] = old, new
    return fields


def _side_path(fields: dict[str, str], marker: str, rename: str, copy: str,
               default: str) -> str:
    if rename in fields or copy in fields:
        return _unquote(fields.get(rename) or fields[copy])
    # Git ends a path holding a space with a tab there; a quoted path has no raw tab.
    value = fields.get(marker, "").split("\t")[0]
    if value and value != "/dev/null":
        return _unquote(value)[2:]  # drop the "a/" or "b/" prefix
    return default


def _paths_of_git_line(line: str) -> tuple[str, str]:
    """Both paths of ``diff --git a/X b/Y``; exact when X == Y or the paths are quoted."""
    rest = line[len("diff --git "):]
    if rest.startswith('"'):
        old, after = _split_quoted(rest)
        new = _unquote(after.strip())
        return old[2:], new[2:]
    half = (len(rest) - 1) // 2
    if rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return rest[2:half], rest[half + 3:]
    old, _, new = rest.partition(" b/")
    return old[2:], new


def _split_quoted(text: str) -> tuple[str, str]:
    """Split a leading C-quoted string off ``text``; returns (unquoted, remainder)."""
    i = 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return _unquote(text[: i + 1]), text[i + 1:]


def _unquote(value: str) -> str:
    """Undo git's C-style quoting of unusual paths ("a/t\\303\\251st" -> "a/tést")."""
    if not (len(value) >= 2 and value[0] == value[-1] == '"'):
        return value
    out = bytearray()
    body, i = value[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and body[i + 1:i + 4].isdigit():
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        elif char == "\\" and i + 1 < len(body):
            out += _C_ESCAPES.get(body[i + 1], body[i + 1]).encode()
            i += 2
        else:
            out += char.encode()
            i += 1
    # As os.fsdecode does: a name that is not UTF-8 keeps its bytes (as the engine's
    # paths do), so the path of an excluded file is the engine's path of it.
    return out.decode("utf-8", errors="surrogateescape")


def _binary_size(text: str, deleted: bool) -> int | None:
    """Size of the new content (of the old one for a deletion) from git's binary patch.

    A ``literal N`` block states its size; a ``delta N`` block states only the delta's
    size, so the result size is read from the delta's own header.
    """
    sizes = [_block_result_size(m, text) for m in _BINARY_BLOCK.finditer(text)]
    if not sizes:
        return None
    return sizes[-1] if deleted and len(sizes) > 1 else sizes[0]


def _block_result_size(match: re.Match[str], text: str) -> int | None:
    if match.group(1) == "literal":
        return int(match.group(2))
    data = bytearray()
    for line in text[match.end() + 1:].split("\n"):
        if not line:
            break
        # First char: decoded byte count (A-Z = 1-26, a-z = 27-52); then base85.
        count = ord(line[0]) - (ord("A") - 1 if line[0] <= "Z" else ord("a") - 27)
        data += base64.b85decode(line[1:])[:count]
        if len(data) > 64:
            break  # the header sits in the first few bytes
    try:
        header = zlib.decompressobj().decompress(bytes(data), 32)
    except zlib.error:
        return None
    _source, at = _varint(header, 0)
    target, _ = _varint(header, at)
    return target


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Git's delta header number: 7 bits per byte, least significant first."""
    value = shift = 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        shift += 7
        at += 1
        if not byte & 0x80:
            break
    return value, at
