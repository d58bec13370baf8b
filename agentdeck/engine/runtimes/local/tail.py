"""One reader thread per runtime that tails the output files of all live local sandboxes.

The agents' supervisors write into files; this thread polls them (every ~10 ms while there
is output, backing off to 50 ms when idle), splits new bytes into lines, merges the two
streams in the order the supervisor's order log gives, and hands batches of up to
BATCH_LINES lines of one stream to each sandbox's event loop, with at most one wake-up of a loop
pending at a time (never a call per line). A thread per sandbox, or the default executor,
would not scale to dozens of agents. When the loops fall behind, or what the sinks feed
(the store) does, the thread stops reading for a while: the files hold the rest, and the
engine's memory stays flat however fast an agent prints.
"""
from __future__ import annotations

import asyncio
import enum
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import Stream
from agentdeck.engine.runtimes.base import Outcome, Sink
from agentdeck.engine.runtimes.lines import BATCH_LINES, LineSplitter
from agentdeck.engine.runtimes.loopfeed import Call, LoopFeed
from agentdeck.engine.runtimes.local.order_log import OrderReader

CHUNK_BYTES = 256 * 1024
#: Lines handed to loops but not yet consumed (plus the sinks' backlog), above which
#: reading pauses.
MAX_IN_FLIGHT_LINES = 100_000
_BUSY_SLEEP = 0.01
_IDLE_SLEEP_MAX = 0.05
STREAMS = (Stream.STDOUT, Stream.STDERR)


@dataclass(frozen=True)
class TailCursor:
    """Where the output of one sandbox was read up to: its id (None: not known yet), the
    byte offset in each stream's file, and the order log record of the run there."""

    run: str | None = None
    offsets: dict[Stream, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    order: int = 0

    def encode(self) -> str:
        return json.dumps({"run": self.run, **{s.value: self.offsets[s] for s in STREAMS},
                           "order": self.order})


def decode_cursor(cursor: str | None) -> TailCursor:
    """The position a stored cursor names (None: the very start)."""
    if cursor is None:
        return TailCursor()
    try:
        raw = json.loads(cursor)
        # Cursors of an agentdeck without the order log have no "order": they belong to
        # output without one, which is read unordered anyway.
        found = TailCursor(str(raw["run"]), {s: int(raw[s.value]) for s in STREAMS},
                           int(raw.get("order", 0)))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidInput(f"not a local runtime log cursor: {cursor!r} ({exc})") from exc
    if min(found.offsets.values()) < 0 or found.order < 0:
        raise InvalidInput(f"log cursor has a negative offset: {cursor!r}")
    return found


@runtime_checkable
class BackloggedSink(Protocol):
    """A sink that passes lines on to a slower consumer and says how many wait there."""

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None: ...

    def backlog(self) -> int:
        """Lines taken but not yet consumed downstream (the engine's `TaskLog`: not yet
        written by the store)."""


def _no_backlog() -> int:
    return 0


@dataclass(eq=False)
class TailTarget:
    """The output files of one sandbox and where their lines go.

    Lines of both streams are handed out in the order the order log gives
    (`agentdeck.engine.runtimes.local.order_log`), each batch with the cursor after it.

    ``probe`` runs on the reader thread and returns the sandbox's Outcome once it ended
    (else None); ``on_done`` / ``on_error`` run on ``loop`` after the last batch was
    delivered / when the sink raised. A `BackloggedSink`'s backlog counts as in flight.
    """

    loop: asyncio.AbstractEventLoop
    sink: Sink
    run: str                         # which sandbox the cursors belong to
    paths: dict[Stream, Path]
    order_path: Path
    start: TailCursor                # where to begin (its ``run`` is not looked at)
    probe: Callable[[], Outcome | None]
    on_done: Callable[[Outcome], None]
    on_error: Callable[[BaseException], None]
    splitters: dict[Stream, LineSplitter] = field(init=False)
    order: OrderReader = field(init=False)
    backlog: Callable[[], int] = field(init=False)
    fds: dict[Stream, int] = field(default_factory=dict, init=False)
    idle: bool = field(default=True, init=False)
    scheduled: int = field(default=0, init=False)   # lines handed out (reader thread)
    delivered: int = field(default=0, init=False)   # lines the sink got (loop thread)
    #: Set (from any thread) to end deliveries; the reader thread then drops the target.
    stopped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.splitters = {s: LineSplitter(self.start.offsets[s]) for s in STREAMS}
        self.order = OrderReader(self.order_path, self.start.order)
        self.backlog = self.sink.backlog if isinstance(self.sink, BackloggedSink) else _no_backlog

    def read(self, stream: Stream, offset: int) -> bytes:
        """Up to CHUNK_BYTES of ``stream``'s file from ``offset`` (b"" until it exists)."""
        fd = self.fds.get(stream)
        if fd is None:
            try:
                fd = self.fds[stream] = os.open(self.paths[stream], os.O_RDONLY)
            except FileNotFoundError:
                return b""
        return os.pread(fd, CHUNK_BYTES, offset)

    def feed(self, queue: list[Call], chunks: list[bytes]) -> bool:
        """Split ``chunks`` (what was read of each stream, at the splitters' ends) into
        batches queued in the order log's order; whether any byte was taken."""
        base = [self.splitters[s].end for s in STREAMS]
        pieces = self.order.plan(base, [at + len(c) for at, c in zip(base, chunks)])
        for index, end, record in pieces:
            stream, splitter = STREAMS[index], self.splitters[STREAMS[index]]
            # A piece is most often a whole chunk: that slice is the chunk itself, no copy.
            data = chunks[index][splitter.end - base[index]:end - base[index]]
            for lines, at in splitter.feed(data):
                self.schedule(queue, stream, lines, at, record)
        return bool(pieces)

    def drain(self, queue: list[Call]) -> None:
        """At the end: what the order log did not place (there is nothing, unless an older
        supervisor wrote no order log), then each stream's unfinished last line."""
        for stream in STREAMS:
            splitter = self.splitters[stream]
            while data := self.read(stream, splitter.end):
                for lines, at in splitter.feed(data):
                    self.schedule(queue, stream, lines, at, self.order.index)
        for stream in STREAMS:
            for lines, at in self.splitters[stream].flush():
                self.schedule(queue, stream, lines, at, self.order.index)

    def schedule(self, queue: list[Call], stream: Stream, lines: list[str], end: int,
                 record: int) -> None:
        """Queue one batch of ``stream`` whose last line ends at file offset ``end``, in the
        run of order log record ``record``."""
        offsets = {s: self.splitters[s].offset for s in STREAMS}
        offsets[stream] = end
        cursor = TailCursor(self.run, offsets, record).encode()
        queue.append((_deliver, (self, stream, lines, cursor), len(lines)))
        self.scheduled += len(lines)

    def close_files(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        self.order.close()


class Tailer:
    """The shared reader thread; started on the first `add`, stopped by `close`."""

    def __init__(self, name: str = "agentdeck-local-tail") -> None:
        self._name = name
        self._targets: list[TailTarget] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._turn = 0
        self._feeds: dict[asyncio.AbstractEventLoop, LoopFeed] = {}

    def add(self, target: TailTarget) -> None:
        """Start tailing ``target``'s files from its offsets."""
        with self._lock:
            if self._closing:
                raise RuntimeError("tailer is closed")
            self._targets.append(target)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and wait for it (blocking: call it off the loop)."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        sleep = _BUSY_SLEEP
        while True:
            with self._lock:
                if self._closing:
                    break
                targets = self._targets[:]
            if not targets:
                self._wake.wait()  # nothing to tail: sleep until `add` or `close`
                self._wake.clear()
                continue
            progress = self._round(targets)
            if progress is _Progress.BACKLOG:
                continue
            sleep = _BUSY_SLEEP if progress is _Progress.READ else min(sleep * 2, _IDLE_SLEEP_MAX)
            self._wake.wait(sleep)
            self._wake.clear()
        with self._lock:
            for target in self._targets:
                target.close_files()
            self._targets.clear()

    def _round(self, targets: list[TailTarget]) -> "_Progress":
        """Poll every target once, starting with a different one each round for fairness."""
        self._turn = (self._turn + 1) % len(targets)
        targets = targets[self._turn:] + targets[:self._turn]
        # The sinks of one runtime share one consumer (the engine's store): its backlog
        # counts once.
        in_flight = (sum(t.scheduled - t.delivered for t in targets)
                     + max(t.backlog() for t in targets))
        queues: dict[asyncio.AbstractEventLoop, list[Call]] = {}
        progress = _Progress.IDLE
        for target in targets:
            if in_flight > MAX_IN_FLIGHT_LINES:
                progress = max(progress, _Progress.READ)  # the loops are behind: let them catch up
                break
            if target.stopped:
                self._drop(target)
                continue
            queue = queues.setdefault(target.loop, [])
            before = target.scheduled
            try:
                step = self._poll(target, queue)
            except Exception as exc:  # a bug or an unreadable file: fail this sandbox only
                self._drop(target)
                queue.append((target.on_error, (exc,), 0))
                continue
            in_flight += target.scheduled - before
            progress = max(progress, step)
        for loop, queue in queues.items():
            if queue:
                self._feed(loop).push(queue)
        return progress

    def _feed(self, loop: asyncio.AbstractEventLoop) -> LoopFeed:
        feed = self._feeds.get(loop)
        if feed is None:
            for closed in [old for old in self._feeds if old.is_closed()]:
                del self._feeds[closed]
            feed = self._feeds[loop] = LoopFeed(loop, BATCH_LINES)
        return feed

    def _poll(self, target: TailTarget, queue: list[Call]) -> "_Progress":
        outcome = target.probe() if target.idle else None
        # The data first, the order log after (in `feed`): see engine.runtimes.order_log.
        chunks = [target.read(stream, target.splitters[stream].end) for stream in STREAMS]
        progress = _Progress.IDLE
        for data in chunks:
            if data:
                progress = max(progress, _Progress.BACKLOG if len(data) == CHUNK_BYTES
                               else _Progress.READ)
        took = target.feed(queue, chunks)
        target.idle = progress is _Progress.IDLE
        if outcome is not None and not took:  # the files are complete and all placed
            target.drain(queue)
            queue.append((_done, (target, outcome), 0))
            self._drop(target)
        return progress

    def _drop(self, target: TailTarget) -> None:
        target.close_files()
        with self._lock:
            if target in self._targets:
                self._targets.remove(target)


class _Progress(enum.IntEnum):
    IDLE = 0      # nothing new anywhere
    READ = 1      # some output
    BACKLOG = 2   # a file had a full chunk waiting: poll again at once


def _deliver(target: TailTarget, stream: Stream, lines: list[str], cursor: str) -> None:
    target.delivered += len(lines)
    if target.stopped:
        return
    try:
        target.sink(stream, lines, cursor)
    except Exception as exc:  # the engine's sink failed: stop feeding this sandbox
        target.stopped = True
        target.on_error(exc)


def _done(target: TailTarget, outcome: Outcome) -> None:
    if not target.stopped:
        target.on_done(outcome)
