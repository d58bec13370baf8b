"""The order log of a local sandbox: how the agent's stdout and stderr lines interleave.

The supervisor keeps each stream in a file of its own (masked and capped on its own). Each
time what it writes switches from one stream to the other, it first appends a record to
`ORDER_LOG`: the stream that comes next and the size of both files at that moment. Between
two records only the named stream grows, so the records cut both files into runs in the
order they were written, and a reader that merges the runs in record order hands out the
lines in the order the supervisor read them from the agent's pipes. (Two pipes tell no
order of their own: a line written to one pipe before the supervisor read a line the
agent wrote earlier to the other one can still come first.)

A reader reads the data files first and this log after: a record is written before the
data it announces, so every byte it read has its record visible by then.

The log is bounded: after ``max_records`` records one `FREE` record says that from there on
the streams are no longer ordered against each other (each keeps its own order), so an
agent switching streams at every byte cannot make it grow with its output.

Stdlib only: the supervisor imports this.
"""
from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Sequence
from pathlib import Path

ORDER_LOG = "order"
#: One record: the stream that comes next (0 stdout, 1 stderr, `FREE`), then the size of
#: the stdout and the stderr file when it starts.
RECORD = struct.Struct("<BQQ")
FREE = 2
#: Records read ahead with one read.
_AHEAD = 256
#: A piece of the plan: feed the stream (0 or 1) up to this offset of its file; the
#: record its run starts at.
Piece = tuple[int, int, int]
_Record = tuple[int, tuple[int, int]]
#: Before the first record the agent's output is stdout, from the start of both files.
_FIRST: _Record = (0, (0, 0))


def max_records(cap: int) -> int:
    """How many switches are kept in order for streams capped at ``cap`` bytes each."""
    return max(4096, cap // 256)


class OrderWriter:
    """The supervisor's side: appends a record at each switch of stream."""

    def __init__(self, fd: int, limit: int) -> None:
        self._fd, self._left, self._stream = fd, limit, _FIRST[0]

    def switch(self, stream: int, sizes: Sequence[int]) -> None:
        """Call before writing bytes of ``stream`` (0/1), with the files at ``sizes``."""
        if stream == self._stream or self._stream == FREE:
            return
        code = stream if self._left > 0 else FREE
        self._left -= 1
        os.write(self._fd, RECORD.pack(code, *sizes))
        self._stream = code


class OrderReader:
    """The tailer's side: which bytes of which stream come next.

    Attributes:
        index: the record the current run starts at (0: the run before any record); part
            of each log cursor, so a re-attached reader goes on in the same run.
    """

    def __init__(self, path: Path, index: int = 0) -> None:
        self.index = index
        self._path = path
        self._fd: int | None = None
        self._current: _Record | None = _FIRST if index == 0 else None
        self._ahead: deque[_Record] = deque()
        self._free = False

    def plan(self, fed: Sequence[int], limit: Sequence[int]) -> list[Piece]:
        """The pieces to feed, in the order they were written.

        Args:
            fed: per stream, the file offset up to which bytes were fed already.
            limit: per stream, the offset up to which bytes have been read (and may be fed).
        """
        fed = list(fed)
        if not self._open():
            if not any(limit[s] > fed[s] for s in (0, 1)):
                return []
            self._free = True  # data but no order log: an older agentdeck's supervisor
        pieces: list[Piece] = []
        while not self._free:
            current = self._record()
            if current is None:
                return pieces
            stream, start = current
            if stream == FREE:
                self._free = True
                break
            other = 1 - stream
            # The other stream's bytes before this run: the start of a line not complete yet.
            if min(start[other], limit[other]) > fed[other]:
                fed[other] = min(start[other], limit[other])
                pieces.append((other, fed[other], self.index))
            if limit[other] < start[other]:
                return pieces
            following = self._peek()
            end = following[1][stream] if following else limit[stream]
            stop = min(end, limit[stream])
            if stop > fed[stream]:
                fed[stream] = stop
                pieces.append((stream, stop, self.index))
            if following is None or stop < end:
                return pieces
            self._advance()
        return pieces + [(s, limit[s], self.index) for s in (0, 1) if limit[s] > fed[s]]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> bool:
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except FileNotFoundError:
                return False
        return True

    def _record(self) -> _Record | None:
        """The current run's record (None: not readable yet)."""
        if self._current is None:
            self._current = self._read(self.index - 1)
        return self._current

    def _peek(self) -> _Record | None:
        if not self._ahead:
            self._ahead.extend(self._read_many(self.index, _AHEAD))
        return self._ahead[0] if self._ahead else None

    def _advance(self) -> None:
        self._current = self._ahead.popleft()
        self.index += 1

    def _read(self, position: int) -> _Record | None:
        found = self._read_many(position, 1)
        return found[0] if found else None

    def _read_many(self, position: int, count: int) -> list[_Record]:
        assert self._fd is not None
        data = os.pread(self._fd, RECORD.size * count, RECORD.size * position)
        whole = len(data) - len(data) % RECORD.size
        return [(code, (out, err)) for code, out, err in RECORD.iter_unpack(data[:whole])]
