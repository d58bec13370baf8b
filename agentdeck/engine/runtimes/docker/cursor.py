"""Positions in a container's log, as Docker's own timestamps, and the cursor string.

Both output streams are read in one log request. Each stream has a `LogPosition`: the
timestamp of the last log message of its last delivered line plus how many messages
carried exactly that timestamp (a long line arrives as several 16 KiB messages sharing
one timestamp). The `LogCursor` adds ``scan_ns``, a moment before which every message
of both streams has been delivered. Resuming asks the daemon for messages ``since``
that moment — inclusive — and each stream skips what its position says it has.
"""
from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import Stream
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, cut_marker


class LogPosition(NamedTuple):
    """Just after the ``count``-th log message stamped ``ts_ns`` (ns since the epoch)."""

    ts_ns: int = 0
    count: int = 0


@dataclass(frozen=True)
class LogCursor:
    """Where reading a container's log resumes; `encode` makes the stored string."""

    stdout: LogPosition = LogPosition()
    stderr: LogPosition = LogPosition()
    scan_ns: int = 0  # every message of both streams stamped before this was delivered

    def position(self, stream: Stream) -> LogPosition:
        return self.stdout if stream is Stream.STDOUT else self.stderr

    def moved(self, stream: Stream, pos: LogPosition) -> LogCursor:
        """This cursor with ``stream`` at ``pos``."""
        return replace(self, **{stream.value: pos})

    def since(self) -> str | None:
        """The ``since`` query value that includes every message not yet delivered."""
        if not self.scan_ns:
            return None
        return f"{self.scan_ns // 1_000_000_000}.{self.scan_ns % 1_000_000_000:09d}"

    def encode(self) -> str:
        """The opaque cursor string, e.g. ``stderr=0:0;stdout=…:3;scan=…``."""
        return (f"stderr={self.stderr.ts_ns}:{self.stderr.count};"
                f"stdout={self.stdout.ts_ns}:{self.stdout.count};scan={self.scan_ns}")

    @classmethod
    def decode(cls, cursor: str | None) -> LogCursor:
        """Parse `encode`'s output; None or "" means "from the beginning".

        A cursor stored before ``scan`` existed resumes from its older stream.

        Raises:
            InvalidInput: the cursor was not made by `encode`.
        """
        positions = {Stream.STDOUT: LogPosition(), Stream.STDERR: LogPosition()}
        scan: int | None = None
        try:
            for part in filter(None, (cursor or "").split(";")):
                name, _, value = part.partition("=")
                if name == "scan":
                    scan = int(value)
                    continue
                ts_ns, _, count = value.partition(":")
                positions[Stream(name)] = LogPosition(int(ts_ns), int(count))
        except ValueError as exc:
            raise InvalidInput(f"unreadable Docker log cursor {cursor!r}: {exc}") from None
        if scan is None:
            scan = min(pos.ts_ns for pos in positions.values())
        return cls(positions[Stream.STDOUT], positions[Stream.STDERR], scan)


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


class LineReader:
    """Turns log messages into lines, skipping those at or before a start position.

    Lines longer than `MAX_LINE_BYTES` are cut and marked; ``line_pos`` is the position
    after the last complete line returned, ``last_ts`` the timestamp of the last message
    taken, ``partial_ts`` that of the first message of a line not yet complete,
    ``taken_bytes`` the payload bytes of the messages taken.
    """

    def __init__(self, start: LogPosition, parse_ts: Callable[[bytes], int]) -> None:
        self.line_pos = start
        self._parse_ts = parse_ts
        self._ts, self._count = start
        self._skip_ts, self._skip_count = start
        self._skip_seen = 0
        self._parts: list[bytes] = []
        self._part_len = self._dropped = 0
        self.partial_ts: int | None = None
        self.taken_bytes = 0
        # When its log file rotates, Docker sends the last messages of a follow stream
        # again. The pieces of one long line share a stamp, so a message stamped like
        # the last one taken (``_ts``) may be new or sent again: these are the messages
        # taken with that stamp, and how many of them came again after an older one.
        self._at_ts: list[bytes] = []
        self._replayed: int | None = None

    def feed(self, frames: list[bytes]) -> list[str]:
        """The lines completed by ``frames`` (payloads with their timestamp prefix)."""
        lines: list[str] = []
        for frame in frames:
            stamp, _, payload = frame.partition(b" ")
            ts_ns = self._parse_ts(stamp)
            if self._skip_ts and self._skipped(ts_ns):
                continue
            if ts_ns == self._ts:
                if self._sent_again(payload):
                    continue
                self._count += 1
            elif ts_ns < self._ts:
                self._replayed = 0  # sent again: so are those stamped ``_ts`` next
                continue
            else:
                self._ts, self._count, self._at_ts, self._replayed = ts_ns, 1, [], None
            self._at_ts.append(payload)
            self.taken_bytes += len(payload)
            if payload[-1:] != b"\n":
                self._add(payload)
            elif not self._parts and len(payload) <= MAX_LINE_BYTES:
                lines.append(payload[:-1].decode("utf-8", "replace"))  # the common case
                self.line_pos = LogPosition(self._ts, self._count)
            else:
                self._add(payload[:-1])
                lines.append(self._line())
        return lines

    def _sent_again(self, payload: bytes) -> bool:
        """Whether a message stamped ``_ts`` is one already taken: after an older
        message (a replay), the next of those taken in order; between lines, any."""
        if self._replayed is not None:
            if self._replayed < len(self._at_ts) and payload == self._at_ts[self._replayed]:
                self._replayed += 1
                return True
            self._replayed = None  # the replay is over: this one is new
            return False
        return not self._parts and payload in self._at_ts

    def finish(self) -> list[str]:
        """The last line if the output ended without a newline."""
        return [self._line()] if self._parts or self._dropped else []

    @property
    def last_ts(self) -> int:
        return self._ts

    def _skipped(self, ts_ns: int) -> bool:
        if ts_ns < self._skip_ts or (ts_ns == self._skip_ts and self._skip_seen < self._skip_count):
            self._skip_seen += ts_ns == self._skip_ts
            return True
        self._skip_ts = 0  # past the start: timestamps only grow from here
        return False

    def _add(self, data: bytes) -> None:
        if self.partial_ts is None:
            self.partial_ts = self._ts
        room = MAX_LINE_BYTES - self._part_len
        if len(data) > room:
            self._dropped += len(data) - room
            data = data[:room]
        if data:
            self._parts.append(data)
            self._part_len += len(data)

    def _line(self) -> str:
        text = b"".join(self._parts).decode("utf-8", "replace")
        if self._dropped:
            text += cut_marker(self._dropped)
        self._parts, self._part_len, self._dropped = [], 0, 0
        self.partial_ts = None
        self.line_pos = LogPosition(self._ts, self._count)
        return text
