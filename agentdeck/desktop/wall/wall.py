"""The wall: one tile per running task with a live tail of its log.

New lines only mark a tile dirty; the wall repaints at most `REPAINTS_PER_FRAME` dirty
tiles per frame, longest-waiting first, so 50 busy tiles cost a bounded slice of every
frame (each still refreshes several times a second) instead of one long frame now and then.
"""
from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from agentdeck.desktop.wall.wall_tile import TAIL_LINES, TILE_WIDTH, TaskTile, tail_text
from agentdeck.engine.models import LogEntry, Task, TaskState

__all__ = ["REPAINTS_PER_FRAME", "TAIL_LINES", "WALL_STATES", "TaskTile", "Wall", "tail_text"]

#: States that get a tile.
WALL_STATES = frozenset({TaskState.PREPARING, TaskState.RUNNING, TaskState.NEEDS_INPUT})

REPAINTS_PER_FRAME = 6
FRAME_MS = 50


def _in_view(tile: TaskTile) -> bool:
    """Whether any part of the tile shows (not scrolled away, not behind another tab)."""
    return not tile.visibleRegion().isEmpty()


class Wall(QScrollArea):
    """A grid of `TaskTile`s for the tasks in `WALL_STATES`, oldest first.

    Signals:
        open_task(str): a tile was clicked.
    """

    open_task = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self._tiles: dict[str, TaskTile] = {}
        self._dirty: dict[str, None] = {}  # insertion-ordered: longest waiting first
        self._columns = 0
        self._frame = QTimer(self, interval=FRAME_MS)
        self._frame.timeout.connect(self._repaint_some)
        inner = QWidget()
        outer = QVBoxLayout(inner)
        outer.setContentsMargins(14, 14, 14, 14)
        self._grid = QGridLayout()
        self._grid.setSpacing(12)
        outer.addLayout(self._grid)
        outer.addStretch(1)
        self._empty = QLabel("No task is running.\nPress Ctrl+N to start one.")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setEnabled(False)
        outer.addWidget(self._empty)
        outer.addStretch(2)
        self.setWidget(inner)

    def tiles(self) -> dict[str, TaskTile]:
        """Tiles by task id."""
        return dict(self._tiles)

    def sync(self, tasks: Iterable[Task]) -> None:
        """Add, update or remove tiles for these snapshots."""
        changed = False
        for task in tasks:
            tile = self._tiles.get(task.id)
            if task.state in WALL_STATES:
                if tile is None:
                    self._add(task)
                    changed = True
                else:
                    tile.set_task(task)
            elif tile is not None:
                self._remove(task.id)
                changed = True
        if changed:
            self._relayout(force=True)

    def _add(self, task: Task) -> None:
        tile = TaskTile(task, self.widget())
        tile.clicked.connect(self.open_task)
        self._tiles[task.id] = tile

    def _remove(self, task_id: str) -> None:
        self._dirty.pop(task_id, None)
        tile = self._tiles.pop(task_id)
        self._grid.removeWidget(tile)
        tile.deleteLater()

    def append_logs(self, logs: dict[str, list[LogEntry]]) -> None:
        """Feed new log entries to the tiles that show those tasks."""
        for task_id, entries in logs.items():
            tile = self._tiles.get(task_id)
            if tile is not None:
                tile.add_entries(entries)
                self._dirty[task_id] = None
        if self._dirty and not self._frame.isActive():
            self._frame.start()

    def _repaint_some(self) -> None:
        """Repaint the longest-waiting dirty tiles in view. A tile scrolled out of view
        is only forgotten: Qt paints it, tail and all, when it comes back into view."""
        painted = 0
        for task_id in list(self._dirty):
            if painted == REPAINTS_PER_FRAME:
                break
            del self._dirty[task_id]
            tile = self._tiles[task_id]
            if _in_view(tile):
                tile.repaint_log()
                painted += 1
        if not self._dirty:
            self._frame.stop()

    def tick(self) -> None:
        """Advance the clocks in view (once a second)."""
        if self.isVisible():
            for tile in self._tiles.values():
                if _in_view(tile):
                    tile.tick()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self, force: bool = False) -> None:
        usable = max(1, self.viewport().width() - 28)
        columns = max(1, (usable + 12) // (TILE_WIDTH + 12))
        if columns == self._columns and not force:
            return
        self._columns = columns
        for tile in self._tiles.values():
            self._grid.removeWidget(tile)
        order = sorted(self._tiles.values(), key=lambda t: (t.task.started_at or t.task.created_at, t.task.id))
        for position, tile in enumerate(order):
            self._grid.addWidget(tile, position // columns, position % columns)
            tile.show()
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        self._empty.setVisible(not self._tiles)
