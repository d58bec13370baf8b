"""Following one output stream of a container, from a dedicated thread, into a sink.

Follow streams block forever, so each stream of each container gets its own thread
(never the default executor, whose few workers they would pin). Lines travel to the
event loop in batches through ``call_soon_threadsafe``; a new batch is scheduled only
when the previous one was taken, so batches grow with the load. See `docker_cursor`
for how positions and resuming work.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import docker.errors
import requests
import urllib3.exceptions

from engine.models import Stream
from engine.runtimes.docker_cursor import LineReader, LogPosition, TimestampParser
from engine.runtimes.docker_http import LogRequest

log = logging.getLogger(__name__)

#: Undelivered lines at which the reader thread waits for the loop to catch up.
HIGH_WATER = 50_000
#: How long a follow stream may stay idle after the container exited (docker-py #3084).
EXIT_GRACE = 1.0
#: Messages asked for (from the end) when reading the rest of a finished log; more
#: only if they do not reach back to our position.
FINAL_TAIL = 1000
#: Broken reads of a stream (connection reset, ...) tolerated before giving up.
MAX_BROKEN_READS = 5
#: What a broken connection to the daemon raises while a stream is read.
NETWORK_ERRORS = (OSError, requests.exceptions.RequestException,
                  urllib3.exceptions.HTTPError, docker.errors.DockerException)

Deliver = Callable[[Stream, list[str], LogPosition], None]


class LogFollower:
    """Reads one stream of one container, after ``start``, until the container ended.

    Args:
        container: the SDK container.
        stream: which stream to follow (stdout or stderr).
        start: resume strictly after this position.
        deliver: called on ``loop`` with each batch of lines and the position after it.
        loop: the event loop to hand lines to.
    """

    def __init__(self, container: Any, stream: Stream, start: LogPosition,
                 deliver: Deliver, loop: asyncio.AbstractEventLoop) -> None:
        self.stream = stream
        self.error: str | None = None  # why following stopped early (daemon gone ...)
        self.done: asyncio.Future[None] = loop.create_future()
        self._container, self._deliver, self._loop = container, deliver, loop
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_pos = start
        self._scheduled = False
        self._drained = threading.Event()
        self._exited = threading.Event()
        self._closed = self._forced = self._following = False
        self._request: LogRequest | None = None
        self._last_data = 0.0  # time.monotonic() of the last chunk received
        self._line_pos = start  # after the last complete line read
        self._reader: LineReader | None = None
        self._parse_ts = TimestampParser()
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name=f"agentdeck-logs-{container.short_id}-{stream.value}")

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
            self._follow_until_end()
        except Exception as exc:  # a bug or an SDK surprise: end this stream, say why
            log.exception("following %s of %s failed", self.stream.value, self._container.id)
            self.error = f"reading the container's {self.stream.value} failed: {exc}"
        finally:
            self._call_on_loop(self._finish_on_loop)

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
                self.error = f"the Docker daemon keeps breaking the {self.stream.value} stream"
                return
            if state == "running":
                time.sleep(0.2 if how == "broken" else 0)
                continue
            # Docker may end a follow stream before the container's last message (seen
            # with a last line without newline): read once more without follow.
            self._exited.set()
        if not self._closed and self._reader is not None:
            lines = self._reader.finish()  # output that ended without a newline
            self._line_pos = self._reader.line_pos
            self._publish(lines)

    def _read_rest(self) -> str:
        """Read what follows our position in the finished log, cheaply when it is short.

        The last `FINAL_TAIL` messages are read first and kept back; they are used only
        if they reach back to our position, else the whole rest is read.
        """
        if self._line_pos.ts_ns:
            held: list[str] = []
            how = self._read(follow=False, tail=FINAL_TAIL, held=held)
            reader = self._reader
            if how != "ended" or reader is None or not reader.may_miss(FINAL_TAIL):
                if how == "ended" and reader is not None:
                    self._line_pos = reader.line_pos
                    self._publish(held)
                return how
        return self._read(follow=False)

    def _read(self, follow: bool, tail: int | None = None,
              held: list[str] | None = None) -> str:
        """Read one log request: "ended" by itself, "closed" by us, or "broken".

        Lines are published as they come, or only collected in ``held`` if given.
        """
        reader = self._reader = LineReader(self._line_pos, self._parse_ts)
        try:
            request = LogRequest(self._container.client.api, self._container.id,
                                 self.stream, follow, self._line_pos.since(), tail)
            with self._lock:
                self._request, self._following, self._forced = request, follow, False
            if self._closed:
                request.close()
                return "closed"
            for frames in request.frames():
                self._last_data = time.monotonic()
                lines = reader.feed(frames)
                if held is not None:
                    held += lines
                elif lines:
                    self._line_pos = reader.line_pos
                    self._publish(lines)
            return "closed" if self._forced or self._closed else "ended"
        except NETWORK_ERRORS:
            if self._closed or self._forced:
                return "closed"
            log.debug("the %s stream of %s broke", self.stream.value, self._container.id,
                      exc_info=True)
            return "broken"
        finally:
            with self._lock:
                request, self._request, self._following = self._request, None, False
            if request is not None:
                request.close()  # never back to the pool: we read its body behind http.client

    def _container_state(self) -> str | None:
        try:
            self._container.reload()
        except docker.errors.NotFound:
            return "removed"
        except NETWORK_ERRORS as exc:
            self.error = f"lost the connection to the Docker daemon: {exc}"
            return None
        return str(self._container.status)

    def _publish(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self._pending += lines
            self._pending_pos = self._line_pos
            schedule, self._scheduled = not self._scheduled, True
            backlog = len(self._pending)
        if schedule:
            self._call_on_loop(self._flush)
        if backlog > HIGH_WATER:
            self._drained.clear()
            while len(self._pending) > HIGH_WATER and not self._closed:
                self._drained.wait(0.5)

    def _call_on_loop(self, callback: Callable[[], None]) -> None:
        try:
            self._loop.call_soon_threadsafe(callback)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._closed = True

    # -- on the loop ---------------------------------------------------------------

    def _flush(self) -> None:
        with self._lock:
            lines, pos = self._pending, self._pending_pos
            self._pending, self._scheduled = [], False
        self._drained.set()
        if lines and not self._closed:
            self._deliver(self.stream, lines, pos)

    def _finish_on_loop(self) -> None:
        self._flush()
        if not self.done.done():
            self.done.set_result(None)
