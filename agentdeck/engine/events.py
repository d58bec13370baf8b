"""Typed engine events and the bus that carries them.

Producers call `EventBus.publish` on the event loop; it never blocks and never awaits.
Subscribers are plain callbacks, called in order on the loop: they must be quick and only
buffer (the Qt bridge coalesces per frame; the CLI prints), so a slow one cannot stall the
engine. A failing one is logged and the others still get the event.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Union

from agentdeck.engine.models import LogEntry, Task

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
class Notice:
    """Something the user should read: a fallback, a daemon going away, a recovered task."""

    level: str  # "info" | "warning" | "error"
    message: str
    task_id: str | None = None


Event = Union[TaskUpdated, LogAppended, Notice]
Callback = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._callbacks: list[Callback] = []

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def publish(self, event: Event) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the engine
                log.exception("event subscriber failed on %r", type(event).__name__)
