"""Handing work from a reader thread to an event loop without flooding the loop.

A thread that produces many small jobs for a loop should neither wake it once per job
(a ``call_soon_threadsafe`` is a syscall) nor make it run everything in one go (timers
and I/O would wait). `LoopFeed` queues jobs, keeps one wake-up pending at a time, and
runs a bounded amount of work per loop iteration.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: A function to run on a loop, its arguments, and how many lines it hands over.
Call = tuple[Callable[..., None], tuple[Any, ...], int]


class LoopFeed:
    """Calls waiting for one event loop, run there at most a batch of lines per loop turn.

    One wake-up is pending at a time however many batches wait, and each turn yields
    back to the loop, so timers and I/O are served between batches even during a flood.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, lines_per_turn: int) -> None:
        self.loop = loop
        self._lines_per_turn = lines_per_turn
        self._calls: deque[Call] = deque()
        self._lock = threading.Lock()
        self._pending = False

    def push(self, calls: list[Call]) -> None:
        """Queue ``calls`` (reader thread)."""
        with self._lock:
            self._calls.extend(calls)
            if self._pending:
                return
            self._pending = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:
            pass  # that loop is closed: nobody is left to receive the lines

    def _drain(self) -> None:  # on the loop
        budget = self._lines_per_turn
        while budget > 0:
            with self._lock:
                if not self._calls:
                    self._pending = False
                    return
                func, args, lines = self._calls.popleft()
            try:
                func(*args)
            except Exception:  # a bug in a callback must not stall every other sandbox
                log.exception("local runtime: a log delivery callback failed")
            budget -= lines
        self.loop.call_soon(self._drain)
