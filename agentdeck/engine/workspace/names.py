"""File names an agent chose: which are refused, which are flagged, and how to show them.

Git stores any byte string but NUL as a path. Names holding control characters are refused
at accept: a newline splits one name into two for every line-based tool the user runs on
the repo (``find | xargs``, ``git ls-files | while read``, CI scripts), which lets a crafted
name inject a path of the agent's choice; an ESC or C1 byte is a terminal escape for every
``ls``, ``find`` or ``cat`` that prints the name raw. Other odd names are legal and only
flagged: invalid UTF-8 (fine on Linux, refused by macOS and Windows file systems), a part
starting with ``-`` (read as an option by ``rm *``-style commands), invisible or
direction-changing characters (a name that reads as another).
"""
from __future__ import annotations

import posixpath

# The files git reads its own instructions from, inside the work tree.
_GIT_FILES = {
    ".gitattributes": "changes .gitattributes: attributes choose the filters, diff and "
                      "merge drivers and line-ending conversions git applies to files",
    ".gitmodules": "changes .gitmodules: submodule paths and the URLs git fetches them from",
}
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}
_SURROGATES = range(0xDC80, 0xDD00)  # os.fsdecode's stand-ins for bytes that are not UTF-8


def escape_name(name: str) -> str:
    """``name`` with every character that is not plainly printable written as an escape
    (``\\n``, ``\\x1b``, ``\\xff`` for a byte that is not UTF-8, ``\\u202e``), and ``\\``
    doubled, so what is shown is unambiguous and can neither move the cursor nor hide text.
    """
    if name.isprintable() and "\\" not in name:
        return name
    return "".join(_escape_char(char) for char in name)


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if code in _SURROGATES:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100 and not char.isprintable():
        return f"\\x{code:02x}"
    if not char.isprintable():
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


def control_reason(path: str) -> str | None:
    """Why ``path`` is refused for its control characters (C0, DEL, C1), else ``None``."""
    found = sorted({c for c in path if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0})
    if not found:
        return None
    return f"name contains control characters ({', '.join(map(escape_name, found))})"


def name_warning(path: str) -> str | None:
    """What a reviewer should know about ``path`` although it may be applied, else ``None``."""
    parts = path.split("/")
    flags = []
    if what := _GIT_FILES.get(posixpath.basename(path).lower()):
        flags.append(what)
    if any(ord(c) in _SURROGATES for c in path):
        flags.append("name is not valid UTF-8")
    if any(not c.isprintable() and ord(c) >= 0xA0 and ord(c) not in _SURROGATES for c in path):
        flags.append("name contains invisible or direction-changing characters")
    if any(part.startswith("-") for part in parts):
        flags.append("a part of the name starts with '-' (commands may read it as an option)")
    return "; ".join(flags) or None
