"""Holding a container's output to the pace agentdeck reads its log at.

Docker writes a container's output to its json-file log at whatever pace the container
prints, and rotates the file (4 × `LOG_FILE_SIZE`): a reader that falls that far behind
loses the lines in between, and nothing says so (a flood of 5 M lines once ended with
1.46 M stored). An *attached* client is different: the daemon hands it the output as it
is written, and when the client stops reading, the container's writes block.

The pacer is such a client. It reads the attach stream (and drops it: the lines come
from the log, with the timestamps resuming needs) only while it is less than
`SLACK_LINES` lines and `SLACK_BYTES` bytes ahead of what the log follower has read. A
flood so waits for agentdeck instead of rotating past it. Without a pacer (attach
refused, the daemon restarted, agentdeck not running) the log is read as before.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
from typing import Any

log = logging.getLogger(__name__)

#: How far the container's output may run ahead of the log follower: well under one of
#: Docker's log files, so the follower is never a rotation behind.
SLACK_LINES = 10_000
SLACK_BYTES = 2 << 20
_HEADER = struct.Struct(">BxxxL")


class FrameCounter:
    """Counts the payload bytes and newlines of a multiplexed stream fed in pieces."""

    def __init__(self) -> None:
        self.lines = self.bytes = 0
        self._header = b""
        self._left = 0  # payload bytes left in the current frame

    def feed(self, data: bytes) -> None:
        pos = 0
        while pos < len(data):
            if self._left:
                payload = data[pos:pos + self._left]
                self.lines += payload.count(b"\n")
                self.bytes += len(payload)
                self._left -= len(payload)
                pos += len(payload)
                continue
            need = _HEADER.size - len(self._header)
            self._header += data[pos:pos + need]
            pos += need
            if len(self._header) == _HEADER.size:
                self._left = _HEADER.unpack(self._header)[1]
                self._header = b""


class OutputPacer:
    """An attach stream of one container, read only as fast as its log is."""

    def __init__(self, sock: Any, name: str) -> None:
        self._sock = sock
        self._counter = FrameCounter()
        self._read_lines = self._read_bytes = 0  # what the log follower has read
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"agentdeck-pace-{name}")

    @classmethod
    def attach(cls, container: Any) -> OutputPacer | None:
        """A started pacer on the container's output; None if the daemon refused (the
        log is then read unpaced)."""
        try:
            sock = container.client.api.attach_socket(
                container.id, params={"stdout": 1, "stderr": 1, "stream": 1})
        except Exception as exc:  # any refusal only costs the pacing
            log.warning("output of %s is not paced: %s", container.name, exc)
            return None
        pacer = cls(sock, container.short_id)
        pacer._thread.start()
        return pacer

    def advanced(self, lines: int, nbytes: int) -> None:
        """The log follower has read ``lines`` more lines and ``nbytes`` more bytes."""
        with self._changed:
            self._read_lines += lines
            self._read_bytes += nbytes
            self._changed.notify()

    def close(self) -> None:
        """Stop pacing: the container writes freely again (the daemon sees us go)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        raw = getattr(self._sock, "_sock", self._sock)
        try:
            raw.shutdown(socket.SHUT_RDWR)  # a close alone leaves the daemon waiting
        except (OSError, AttributeError):
            pass
        try:
            self._sock.close()
        except OSError:
            pass

    def _ahead(self) -> bool:
        return (self._counter.lines - self._read_lines > SLACK_LINES
                or self._counter.bytes - self._read_bytes > SLACK_BYTES)

    def _run(self) -> None:
        raw = getattr(self._sock, "_sock", self._sock)
        try:
            while True:
                with self._changed:
                    while self._ahead() and not self._closed:
                        self._changed.wait(0.5)
                    if self._closed:
                        return
                data = raw.recv(1 << 16)
                if not data:
                    return  # the container ended (or the daemon went away)
                self._counter.feed(data)
        except OSError:
            return  # closed under us, or the daemon went away: nothing left to pace
