"""Typed engine events and the bus that carries them.

Producers call `EventBus.publish` on the event loop; it never blocks and never awaits.
Subscribers are either plain callbacks (called in order, on the loop; they must be quick
and only buffer, like the Qt bridge does) or bounded async queues (`EventBus.listen`) that
coalesce: on overflow the oldest log batches are dropped and the subscriber is told it
lagged, so it can re-read from the store instead of stalling the engine.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable, Union

from engine.models import DiffStats, LogEntry, Task

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskUpdated:
    """A task row changed (state, review, counters...). Carries the stored snapshot."""

    task: Task


@dataclass(frozen=True, slots=True)
class LogAppended:
    """New log entries of one task, already stored or queued for storing in order."""

    task_id: str
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class DiffReady:
    task_id: str
    stats: DiffStats


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should read: a fallback, a daemon going away, a recovered task."""

    level: str  # "info" | "warning" | "error"
    message: str
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class Lagged:
    """Sent to a queue subscriber that fell behind: some LogAppended events were dropped."""

    dropped: int


Event = Union[TaskUpdated, LogAppended, DiffReady, Notice, Lagged]
Callback = Callable[[Event], None]


class Subscription:
    """A bounded async stream of events for one consumer."""

    def __init__(self, bus: "EventBus", maxsize: int) -> None:
        self._bus = bus
        self._items: deque[Event] = deque()
        self._maxsize = maxsize
        self._dropped = 0
        self._waiter: asyncio.Future[None] | None = None

    def _push(self, event: Event) -> None:
        if len(self._items) >= self._maxsize:
            self._drop_one_log_batch()
        self._items.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _drop_one_log_batch(self) -> None:
        for i, old in enumerate(self._items):
            if isinstance(old, LogAppended):
                del self._items[i]
                self._dropped += 1
                return
        self._items.popleft()
        self._dropped += 1

    async def get(self) -> Event:
        while not self._items and not self._dropped:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return Lagged(dropped)
        return self._items.popleft()

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self._bus._queues.discard(self)


class EventBus:
    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._queues: set[Subscription] = set()

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def listen(self, maxsize: int = 10_000) -> Subscription:
        """An async-iterable, bounded, coalescing stream of events."""
        sub = Subscription(self, maxsize)
        self._queues.add(sub)
        return sub

    def publish(self, event: Event) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the engine
                log.exception("event subscriber failed on %r", type(event).__name__)
        for sub in list(self._queues):
            sub._push(event)
