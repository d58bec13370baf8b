"""Following a container's output, from a dedicated thread, into a sink.

Follow streams block forever, so each container gets its own reader thread (never the
default executor, whose few workers it would pin). Both output streams come in one log
request: a request per stream made the daemon decode the whole log file twice. Lines
travel to the event loop in batches through ``call_soon_threadsafe``; a new batch is
scheduled only when the previous one was taken, and waits `BATCH_DELAY` on the loop for
more to join it, so batches grow with the load. See `docker_cursor` for how positions
and resuming work.

A read resumed from a cursor whose last delivered message the log no longer holds (the
json-file log rotated past it while nobody followed and paced it: see `pacer`) lost what
came after that message: the first lines read then carry a `LostOutput` from that
message's time to theirs.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import docker.errors
import requests
import urllib3.exceptions

from agentdeck.engine.models import LostOutput, Stream
from agentdeck.engine.runtimes.docker.cursor import LineReader, LogCursor, TimestampParser
from agentdeck.engine.runtimes.docker.http import LogRequest
from agentdeck.engine.runtimes.docker.pacer import OutputPacer
from agentdeck.engine.runtimes.docker.reconnect import Reconnect

log = logging.getLogger(__name__)

STREAMS = (Stream.STDOUT, Stream.STDERR)
#: Undelivered lines at which the reader thread waits for the loop to catch up.
HIGH_WATER = 50_000
#: How long lines wait on the loop for more to join their batch: handing over each
#: socket read's few lines on its own costs a loop wake-up and a GIL hand-off apiece.
BATCH_DELAY = 0.01
#: How long a follow stream may stay idle after the container exited (docker-py #3084).
EXIT_GRACE = 1.0
#: Messages asked for (from the end) when reading the rest of a finished log; more
#: only if they do not reach back to our position.
FINAL_TAIL = 1000
#: How far before the newest message seen a resume starts: the daemon stamps the two
#: streams separately, so a message of one may be written after a newer one of the other.
SCAN_MARGIN_NS = 1_000_000_000
#: Broken reads of a stream (connection reset, ...) tolerated before giving up.
MAX_BROKEN_READS = 5
#: What a broken connection to the daemon raises while a stream is read.
NETWORK_ERRORS = (OSError, requests.exceptions.RequestException,
                  urllib3.exceptions.HTTPError, docker.errors.DockerException)

Deliver = Callable[[Stream, list[str], LogCursor, LostOutput | None], None]


@dataclass
class _TailProbe:
    """What a read of the last messages got, kept back until we know it is enough."""

    lines: dict[Stream, list[str]] = field(default_factory=lambda: {s: [] for s in STREAMS})
    messages: int = 0
    first_ts: dict[Stream, int] = field(default_factory=dict)  # each stream's oldest


class LogFollower:
    """Reads both output streams of one container, after ``start``, until it ended.

    Args:
        source: the SDK container, found again after its daemon went away.
        start: resume strictly after this cursor.
        deliver: called on ``loop`` with each batch of one stream's lines, the cursor
            after it and the output lost just before it (if so).
        loop: the event loop to hand lines to.
        pacer: holds the container's output to our reading pace (see `pacer`); made
            when reading starts if not given.
    """

    def __init__(self, source: Reconnect, start: LogCursor, deliver: Deliver,
                 loop: asyncio.AbstractEventLoop, pacer: OutputPacer | None = None) -> None:
        self.error: str | None = None  # why following stopped early (daemon gone ...)
        self.done: asyncio.Future[None] = loop.create_future()
        self._source, self._deliver, self._loop = source, deliver, loop
        self._lock = threading.Lock()
        self._pending: dict[Stream, list[str]] = {stream: [] for stream in STREAMS}
        self._pending_cursor = self._delivered = start
        self._pending_lost: LostOutput | None = None  # goes with the next lines delivered
        self._scheduled = False
        self._drained = threading.Event()
        self._exited = threading.Event()
        self._closed = self._forced = self._following = False
        self._request: LogRequest | None = None
        self._last_data = 0.0  # time.monotonic() of the last chunk received
        self._cursor = start  # after the last complete lines read
        self._readers: dict[Stream, LineReader] = {}
        self._parse_ts = TimestampParser()
        self._pacer = pacer
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"agentdeck-logs-{source.current.short_id}")

    @property
    def _container(self) -> Any:
        return self._source.current

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def container_exited(self) -> None:
        """The container ended: a follow stream idle for a grace period is closed."""
        self._exited.set()
        self._arm_exit_timer()

    def _arm_exit_timer(self) -> None:
        timer = threading.Timer(EXIT_GRACE, self._close_idle_follow)
        timer.daemon = True
        timer.start()

    def _close_idle_follow(self) -> None:
        if time.monotonic() - self._last_data < EXIT_GRACE:
            self._arm_exit_timer()  # still draining what the container wrote: let it
        else:
            self._close_request(forced=True)

    def close(self) -> None:
        """Stop reading now; lines not yet delivered are dropped (a resume re-reads them)."""
        self._closed = True
        self._drained.set()
        self._close_request(forced=False)
        self._stop_pacing()

    def _close_request(self, forced: bool) -> None:
        with self._lock:
            if forced and not self._following:
                return  # a final read without follow ends by itself: let it finish
            request, self._forced = self._request, self._forced or forced
        if request is not None:
            request.close()

    # -- reader thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._pacer is None and not self._exited.is_set():
                self._pacer = OutputPacer.attach(self._container)
            self._follow_until_end()
        except Exception as exc:  # a bug or an SDK surprise: end this stream, say why
            log.exception("following the output of %s failed", self._container.id)
            self.error = f"reading the container's output failed: {exc}"
        finally:
            self._stop_pacing()
            self._call_on_loop(self._finish_on_loop)

    def _stop_pacing(self) -> None:
        pacer, self._pacer = self._pacer, None
        if pacer is not None:
            pacer.close()

    def _follow_until_end(self) -> None:
        broken = 0
        while not self._closed:
            final = self._exited.is_set()
            how = self._read_rest() if final else self._read(follow=True)
            if self._closed or (final and how != "broken"):
                break
            broken += how == "broken"
            state = self._container_state()
            if state is None:
                return
            if broken > MAX_BROKEN_READS:
                self.error = "the Docker daemon keeps breaking the container's log stream"
                return
            if state == "running":
                time.sleep(0.2 if how == "broken" else 0)
                continue
            # Docker may end a follow stream before the container's last message (seen
            # with a last line without newline): read once more without follow.
            self._exited.set()
        if not self._closed and self._readers:
            for stream, reader in self._readers.items():  # output ending without newline
                lines = reader.finish()
                self._cursor = self._cursor.moved(stream, reader.line_pos)
                self._publish(stream, lines)
            self._publish_cursor()

    def _read_rest(self) -> str:
        """Read what follows what we have seen of the finished log, cheaply if it is short.

        The last `FINAL_TAIL` messages are read first and kept back. They are used if
        they reach back before the newest message seen of a stream (each stream's
        stamps grow in log order, so the window then covers all we have not seen), else
        the whole rest is read.
        """
        seen = {stream: reader.last_ts for stream, reader in self._readers.items()}
        if any(seen.values()):
            probe = _TailProbe()
            how = self._read(follow=False, tail=FINAL_TAIL, probe=probe)
            reached = any(ts < seen[stream] for stream, ts in probe.first_ts.items())
            if how != "ended" or reached or probe.messages < FINAL_TAIL:
                if how == "ended":
                    for stream, lines in probe.lines.items():
                        self._cursor = self._cursor.moved(stream, self._readers[stream].line_pos)
                        self._publish(stream, lines)
                    self._publish_cursor()
                return how
        return self._read(follow=False)

    def _read(self, follow: bool, tail: int | None = None,
              probe: _TailProbe | None = None) -> str:
        """Read one log request: "ended" by itself, "closed" by us, or "broken".

        Lines are published as they come, or only collected in ``probe`` if given.
        """
        start = self._cursor
        # The last message delivered: the log must still hold it (none on a probe: its
        # window may end later; it is used only when it reaches back far enough).
        last_ns = max(start.stdout.ts_ns, start.stderr.ts_ns) if probe is None else 0
        readers = self._readers = {
            stream: LineReader(start.position(stream), self._parse_ts) for stream in STREAMS}
        try:
            request = LogRequest(self._container.client.api, self._container.id,
                                 follow, start.since(), tail)
            with self._lock:
                self._request, self._following, self._forced = request, follow, False
            if self._closed:
                request.close()
                return "closed"
            for by_stream in request.frames():
                self._last_data = time.monotonic()
                if last_ns and any(by_stream.values()):
                    self._check_lost(last_ns, by_stream)
                    last_ns = 0
                for stream, frames in by_stream.items():
                    if not frames:
                        continue
                    reader = readers[stream]
                    taken = reader.taken_bytes
                    lines = reader.feed(frames)
                    if (pacer := self._pacer) is not None:
                        pacer.advanced(len(lines), reader.taken_bytes - taken)
                    if probe is not None:
                        self._probe(probe, stream, frames, lines)
                    elif lines:
                        self._cursor = self._cursor.moved(stream, reader.line_pos)
                        self._publish(stream, lines)
                if probe is None:
                    self._publish_cursor()
            return "closed" if self._forced or self._closed else "ended"
        except NETWORK_ERRORS:
            if self._closed or self._forced:
                return "closed"
            log.debug("the log stream of %s broke", self._container.id, exc_info=True)
            return "broken"
        finally:
            with self._lock:
                request, self._request, self._following = self._request, None, False
            if request is not None:
                request.close()  # never back to the pool: we read its body behind http.client

    def _check_lost(self, last_ns: int, by_stream: dict[Stream, list[bytes]]) -> None:
        """Note lost output if the first message of a resumed read is newer than the last
        one delivered: since the read starts before that one, the log no longer holds it."""
        first_ns = min(self._parse_ts(frames[0].partition(b" ")[0])
                       for frames in by_stream.values() if frames)
        if first_ns <= last_ns:
            return
        log.warning("the log of %s lost its output between %d and %d (rotated)",
                    self._container.id, last_ns, first_ns)
        self._wait_flushed()  # the lines read before the gap are delivered before it
        with self._lock:
            self._pending_lost = LostOutput(last_ns / 1e9, first_ns / 1e9)

    def _wait_flushed(self) -> None:
        while not self._closed:
            with self._lock:
                if not any(self._pending.values()):
                    return
                self._drained.clear()
            self._drained.wait(0.5)

    def _probe(self, probe: _TailProbe, stream: Stream, frames: list[bytes],
               lines: list[str]) -> None:
        if stream not in probe.first_ts:
            probe.first_ts[stream] = self._parse_ts(frames[0].partition(b" ")[0])
        probe.messages += len(frames)
        probe.lines[stream] += lines

    def _scan_ns(self) -> int:
        """Before this moment, every message of both streams has been published."""
        newest = max(reader.last_ts for reader in self._readers.values())
        partial = [r.partial_ts for r in self._readers.values() if r.partial_ts is not None]
        scan = min([newest - SCAN_MARGIN_NS, *partial])
        return max(scan, self._cursor.scan_ns)

    def _container_state(self) -> str | None:
        """The container's status, once its daemon answers again if it went away; None
        if it did not come back (or we were closed)."""
        container = self._container
        try:
            container.reload()
        except docker.errors.NotFound:
            return "removed"
        except NETWORK_ERRORS as exc:
            try:
                container = self._source.after(container)
            except docker.errors.NotFound:
                return "removed"
            if container is None:
                if not self._closed:
                    self.error = f"lost the connection to the Docker daemon: {exc}"
                return None
        return str(container.status)

    def _publish(self, stream: Stream, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._pending[stream] += lines
            self._pending_cursor = self._cursor
            schedule, self._scheduled = not self._scheduled, True
            backlog = sum(map(len, self._pending.values()))
        if schedule:
            self._call_on_loop(self._flush_soon)
        if backlog > HIGH_WATER:
            self._drained.clear()
            while sum(map(len, self._pending.values())) > HIGH_WATER and not self._closed:
                self._drained.wait(0.5)

    def _publish_cursor(self) -> None:
        """Move the scan mark on; it travels with the next lines delivered."""
        self._cursor = replace(self._cursor, scan_ns=self._scan_ns())
        with self._lock:
            if self._scheduled:
                self._pending_cursor = self._cursor

    def _call_on_loop(self, callback: Callable[[], None]) -> None:
        try:
            self._loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._closed = True

    # -- on the loop ---------------------------------------------------------------

    def _flush_soon(self) -> None:
        self._loop.call_later(BATCH_DELAY, self._flush)

    def _flush(self) -> None:
        with self._lock:
            pending, cursor, lost = self._pending, self._pending_cursor, self._pending_lost
            batches = [(stream, lines) for stream, lines in pending.items() if lines]
            self._pending, self._scheduled = {stream: [] for stream in STREAMS}, False
            if batches:
                self._pending_lost = None
        self._drained.set()
        for i, (stream, lines) in enumerate(batches):
            if self._closed:
                return
            last = i == len(batches) - 1
            # Until the last batch of this flush is in, the other stream's lines are not:
            # its position and the scan mark stay where they were delivered.
            self._delivered = cursor if last else self._delivered.moved(
                stream, cursor.position(stream))
            self._deliver(stream, lines, self._delivered, lost if i == 0 else None)

    def _finish_on_loop(self) -> None:
        self._flush()
        if not self.done.done():
            self.done.set_result(None)
