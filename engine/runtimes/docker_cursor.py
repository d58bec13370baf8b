"""Positions in a container's log, as Docker's own timestamps, and the cursor string.

A `LogPosition` is the timestamp of the last log message of the last delivered line
plus how many messages carried exactly that timestamp (a long line arrives as several
16 KiB messages sharing one timestamp). Resuming asks the daemon for messages ``since``
that moment — inclusive — and skips the ``count`` already delivered.
"""
from __future__ import annotations

import calendar
import time
from typing import NamedTuple

from engine.errors import InvalidInput
from engine.models import Stream


class LogPosition(NamedTuple):
    """Just after the ``count``-th log message stamped ``ts_ns`` (ns since the epoch)."""

    ts_ns: int = 0
    count: int = 0

    def since(self) -> str | None:
        """The ``since`` query value that includes this position's messages, exactly."""
        if not self.ts_ns:
            return None
        return f"{self.ts_ns // 1_000_000_000}.{self.ts_ns % 1_000_000_000:09d}"


def encode_cursor(positions: dict[Stream, LogPosition]) -> str:
    """The opaque cursor string of both streams' positions, e.g. ``stderr=0:0;stdout=…``."""
    return ";".join(f"{stream.value}={pos.ts_ns}:{pos.count}" for stream, pos in sorted(
        positions.items(), key=lambda item: item[0].value))


def decode_cursor(cursor: str | None) -> dict[Stream, LogPosition]:
    """Parse `encode_cursor`'s output; None or "" means "from the beginning".

    Raises:
        InvalidInput: the cursor was not made by `encode_cursor`.
    """
    positions = {Stream.STDOUT: LogPosition(), Stream.STDERR: LogPosition()}
    try:
        for part in filter(None, (cursor or "").split(";")):
            name, _, value = part.partition("=")
            ts_ns, _, count = value.partition(":")
            positions[Stream(name)] = LogPosition(int(ts_ns), int(count))
    except ValueError as exc:
        raise InvalidInput(f"unreadable Docker log cursor {cursor!r}: {exc}") from None
    return positions


class TimestampParser:
    """Parses Docker's RFC 3339 nano timestamps (UTC, trailing zeros trimmed) to ns."""

    def __init__(self) -> None:
        self._seconds_text = b""
        self._seconds = 0

    def __call__(self, text: bytes) -> int:
        head = text[:19]
        if head != self._seconds_text:  # changes at most once a second: parse it rarely
            self._seconds = calendar.timegm(time.strptime(head.decode(), "%Y-%m-%dT%H:%M:%S"))
            self._seconds_text = head
        frac = text[20:-1] if text[19:20] == b"." else b"0"
        return self._seconds * 1_000_000_000 + int(frac.ljust(9, b"0"))
