"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate. If that is a worker thread
(the store writer, a log tailer, an executor), unreachable Qt objects in reference cycles
are destroyed there, and a QObject destroyed off its own thread leaves its timers
registered: Qt later fires a timer on freed memory and the app crashes. So automatic
collection is switched off and this timer collects on the GUI thread, using the
collector's own thresholds.

Once the first window is up, `settle_startup` moves what start-up made (modules,
classes, widgets: some 60 000 objects) out of the collector's sight: a full collection
otherwise walks all of them, 35–60 ms measured with 200 agents on the wall, a stall the
user sees; after it, 3–5 ms.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


_settled = False


def settle_startup() -> None:
    """Collect once, then freeze every surviving object (once per process: later
    sessions, as in tests, would otherwise freeze what earlier ones left behind)."""
    global _settled
    if not _settled:
        _settled = True
        gc.collect()
        gc.freeze()


class GuiThreadGC(QObject):
    def __init__(self, interval_ms: int = 250, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    def collect_due(self) -> None:
        """Collect the oldest generation whose allocation count passed its threshold."""
        counts = gc.get_count()
        due = [gen for gen in range(3) if counts[gen] > self._thresholds[gen]]
        if due:
            gc.collect(due[-1])

    def stop(self) -> None:
        """Hand collection back to Python (tests that end the Qt part of a session)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
