"""The only place where engine events become Qt signals.

The engine publishes on the bus from the asyncio loop (the same thread as Qt under
qasync). The bus callback only buffers; a single-shot timer of about one frame (33 ms)
flushes what accumulated, coalesced: the latest snapshot per task, the log entries of each
task in one batch. So the UI repaints at most ~30 times a second however fast agents write.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from agentdeck.engine.events import Event, EventBus, LogAppended, Notice, TaskUpdated
from agentdeck.engine.models import LogEntry, Task

FRAME_MS = 33


class Bridge(QObject):
    """Buffers engine events and re-emits them once per frame.

    Signals:
        tasks_changed(list[Task]): the latest snapshot of every task that changed.
        logs_appended(dict[str, list[LogEntry]]): new entries per task id, in seq order.
        notice(str, str, object): level, message, task id or None.
    """

    tasks_changed = Signal(list)
    logs_appended = Signal(dict)
    notice = Signal(str, str, object)

    def __init__(self, bus: EventBus, parent: QObject | None = None, frame_ms: int = FRAME_MS):
        super().__init__(parent)
        self._tasks: dict[str, Task] = {}
        self._logs: dict[str, list[LogEntry]] = {}
        self._later: list[Notice] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(frame_ms)
        self._timer.timeout.connect(self.flush)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        # Called by the bus for every event: must stay cheap, only buffer.
        if isinstance(event, LogAppended):
            self._logs.setdefault(event.task_id, []).extend(event.entries)
        elif isinstance(event, TaskUpdated):
            self._tasks[event.task.id] = event.task
        elif isinstance(event, Notice):
            self._later.append(event)
        else:
            return
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Emit everything buffered now (the timer calls this once per frame)."""
        self._timer.stop()
        tasks, self._tasks = self._tasks, {}
        logs, self._logs = self._logs, {}
        later, self._later = self._later, []
        # Snapshots first so that views know a task before its log or a notice arrives.
        if tasks:
            self.tasks_changed.emit(list(tasks.values()))
        if logs:
            self.logs_appended.emit(logs)
        for event in later:
            self.notice.emit(event.level, event.message, event.task_id)

    def close(self) -> None:
        """Stop listening to the bus and drop what is buffered."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
        self._tasks.clear()
        self._logs.clear()
        self._later.clear()
