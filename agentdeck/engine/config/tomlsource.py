"""TOML text with line numbers for error messages.

`tomllib` gives plain dicts without positions, so a semantic error ("unknown field
'timout'") could not say where it is. `TomlSource` parses the text and, only when an
error is raised, scans the text once to find the line of a table or key by its path.
The scan is a small lexer that skips strings (multi-line ones included), comments and
the insides of arrays, so a shell script in a ``'''`` prompt never looks like a header.
"""
from __future__ import annotations

import re
import tomllib
from typing import Any, NoReturn

from agentdeck.engine.errors import InvalidInput

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SYNTAX_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class TomlSource:
    """Parsed TOML text that can raise errors pointing at a line.

    Args:
        text: The TOML document.
        source: How to name the document in messages (usually its file path).
        error: The exception type to raise (`InvalidInput` or a subclass).

    Raises:
        error: When the text is not valid TOML; the message names the line and column.
    """

    def __init__(self, text: str, source: str, error: type[InvalidInput] = InvalidInput) -> None:
        self.text = text
        self.source = source
        self.error = error
        self._lines: dict[KeyPath, int] | None = None
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise error(_syntax_message(source, str(exc))) from None

    def line_of(self, path: KeyPath) -> int | None:
        """The 1-based line defining ``path`` (or its closest defined parent), if any.

        ``path`` mixes table names, keys and array-of-tables indexes, e.g.
        ``("task", 2, "prompt")`` is the prompt key of the third ``[[task]]``.
        """
        if self._lines is None:
            self._lines = _first_lines(_scan(self.text))
        for size in range(len(path), 0, -1):
            if path[:size] in self._lines:
                return self._lines[path[:size]]
        return None

    def where(self, path: KeyPath) -> str:
        """``"<source> line N"`` for ``path`` (just the source when no line defines it)."""
        line = self.line_of(path)
        return f"{self.source} line {line}" if line else self.source

    def fail(self, path: KeyPath, reason: str) -> NoReturn:
        """Raise the error type with ``"<source> line N: <reason>"``."""
        raise self.error(f"{self.where(path)}: {reason}")


def _syntax_message(source: str, message: str) -> str:
    match = _SYNTAX_POS.search(message)
    if not match:
        return f"{source}: invalid TOML: {message}"
    reason = message[: match.start()]
    return f"{source} line {match[1]}, column {match[2]}: invalid TOML: {reason}"


def _first_lines(found: list[tuple[KeyPath, int]]) -> dict[KeyPath, int]:
    """The first line at which each path, or a path below it, is defined."""
    lines: dict[KeyPath, int] = {}
    for path, line in found:
        for size in range(1, len(path) + 1):
            lines.setdefault(path[:size], line)
    return lines


def _scan(text: str) -> list[tuple[KeyPath, int]]:
    """Every table header and key with the line it starts on, in document order."""
    lexer = _Lexer()
    found: list[tuple[KeyPath, int]] = []
    table: KeyPath = ()
    arrays: dict[KeyPath, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if lexer.at_top_level():
            stripped = line.strip()
            if stripped.startswith("["):
                table = _header_path(stripped, arrays)
                found.append((table, number))
                continue  # nothing but a comment may follow a header
            key = _key_path(stripped)
            if key:
                found.append((table + key, number))
        lexer.feed(line)
        lexer.feed("\n")
    return found


def _header_path(stripped: str, arrays: dict[KeyPath, int]) -> KeyPath:
    is_array = stripped.startswith("[[")
    inner = stripped[2:] if is_array else stripped[1:]
    names = _split_keys(_until_close(inner))
    resolved: KeyPath = ()
    for pos, name in enumerate(names):
        resolved += (name,)
        if is_array and pos == len(names) - 1:
            arrays[resolved] = arrays.get(resolved, 0) + 1
            resolved += (arrays[resolved] - 1,)
        elif resolved in arrays:
            resolved += (arrays[resolved] - 1,)
    return resolved


def _until_close(inner: str) -> str:
    quote = ""
    for pos, char in enumerate(inner):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "]":
            return inner[:pos]
    return inner


def _key_path(stripped: str) -> KeyPath:
    """The dotted key before ``=`` on a key/value line, or () when it is not one."""
    quote = ""
    for pos, char in enumerate(stripped):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "=":
            return tuple(_split_keys(stripped[:pos]))
        elif char == "#":
            return ()
    return ()


def _split_keys(dotted: str) -> list[str]:
    names: list[str] = []
    rest = dotted.strip()
    while rest:
        if rest[0] in "\"'":
            end = rest.find(rest[0], 1)
            end = len(rest) if end < 0 else end
            names.append(rest[1:end])
            rest = rest[end + 1 :]
        else:
            match = _BARE_KEY.match(rest)
            if not match:
                return names
            names.append(match[0])
            rest = rest[match.end() :]
        rest = rest.strip()
        rest = rest[1:].strip() if rest.startswith(".") else ""
    return names


class _Lexer:
    """Tracks whether the next line starts outside strings, arrays and inline tables."""

    def __init__(self) -> None:
        self.string = ""   # the open string delimiter, if any
        self.depth = 0     # open [ and { inside values

    def at_top_level(self) -> bool:
        return not self.string and self.depth == 0

    def feed(self, chunk: str) -> None:
        pos = 0
        while pos < len(chunk):
            pos = self._step(chunk, pos)

    def _step(self, chunk: str, pos: int) -> int:
        if self.string:
            return self._in_string(chunk, pos)
        for delim in ('"""', "'''", '"', "'"):
            if chunk.startswith(delim, pos):
                self.string = delim
                return pos + len(delim)
        char = chunk[pos]
        if char == "#":
            return len(chunk)
        if char in "[{":
            self.depth += 1
        elif char in "]}":
            self.depth = max(0, self.depth - 1)
        return pos + 1

    def _in_string(self, chunk: str, pos: int) -> int:
        if self.string[0] == '"' and chunk[pos] == "\\":
            return pos + 2
        if chunk.startswith(self.string, pos):
            end = pos + len(self.string)
            # A multi-line string may end with up to two extra quotes: """a"""" is 'a"'.
            while len(self.string) == 3 and chunk.startswith(self.string[0], end):
                end += 1
            self.string = ""
            return end
        if chunk[pos] == "\n" and len(self.string) == 1:
            self.string = ""  # an unterminated one-line string; tomllib already accepted it
        return pos + 1
