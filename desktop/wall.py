"""The wall: one tile per running task with a live tail of its log.

Tiles paint themselves (no child widgets, opaque): the card and header are cached in a
pixmap that changes only with the task or the clock, so a repaint is one blit plus a few
lines of text. New lines only mark a tile dirty; the wall repaints at most
`REPAINTS_PER_FRAME` dirty tiles per frame, longest-waiting first, so 50 busy tiles cost a
bounded slice of every frame (each still refreshes several times a second).
"""
from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor, QFont, QFontDatabase, QMouseEvent, QPainter, QPaintEvent, QPalette, QPixmap,
)
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from desktop import format as fmt
from desktop.icons import state_color, state_icon
from engine.models import LogEntry, Task, TaskState

#: States that get a tile.
WALL_STATES = frozenset({TaskState.PREPARING, TaskState.RUNNING, TaskState.NEEDS_INPUT})

TAIL_LINES = 8
REPAINTS_PER_FRAME = 6
FRAME_MS = 50
_MAX_CHARS = 240  # wider than any tile; bounds the text layout work per line
TILE_WIDTH = 340
TILE_HEIGHT = 196
_PAD = 10
_HEADER = 44
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def tail_text(entry: LogEntry) -> str:
    """The last line of an entry's text without terminal escape codes or tabs."""
    lines = entry.text.rstrip("\n").splitlines() or [""]
    return _ANSI.sub("", lines[-1]).replace("\t", "    ")


class TaskTile(QWidget):
    """A self-painted card: state, title, elapsed, agent · repo, last log lines.

    Signals:
        clicked(str): the task id, when the tile is clicked.
    """

    clicked = Signal(str)

    def __init__(self, task: Task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._task = task
        self._lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._card: QPixmap | None = None  # card + header, redrawn when they change
        self._mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._mono.setPointSizeF(max(7.5, self.font().pointSizeF() - 1.5))
        self._bold = QFont(self.font())
        self._bold.setBold(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedHeight(TILE_HEIGHT)
        self.setMinimumWidth(TILE_WIDTH - 60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setToolTip(task.prompt[:500])

    @property
    def task(self) -> Task:
        """The snapshot shown."""
        return self._task

    @property
    def lines(self) -> list[str]:
        """The log tail shown, oldest first."""
        return list(self._lines)

    def sizeHint(self) -> QSize:
        return QSize(TILE_WIDTH, TILE_HEIGHT)

    def set_task(self, task: Task) -> None:
        """Show a newer snapshot of the same task."""
        self._task = task
        self._card = None
        self.update()

    def add_entries(self, entries: Iterable[LogEntry]) -> None:
        """Append log entries to the tail (only the last few are kept); no repaint yet."""
        self._lines.extend(tail_text(e)[:_MAX_CHARS] for e in list(entries)[-TAIL_LINES:])

    def repaint_log(self) -> None:
        """Schedule a repaint of the log area only."""
        self.update(self._log_rect())

    def tick(self) -> None:
        """Repaint the clock only."""
        self.update(self._clock_rect())

    def _clock_rect(self) -> QRect:
        return QRect(self.width() - 90, 10, 90 - _PAD, 18)

    def _log_rect(self) -> QRect:
        return self.rect().adjusted(_PAD, _HEADER + 18, -_PAD, -_PAD)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self._task.id)
        super().mousePressEvent(event)

    def resizeEvent(self, event) -> None:
        self._card = None
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:
        self._card = None  # palette or font changed
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._card is None or self._card.size() != self.size() * self.devicePixelRatioF():
            self._card = self._render_card()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._card)
        if event.rect().intersects(self._clock_rect()):
            self._paint_clock(painter)
        if event.rect().intersects(self._log_rect()):
            self._paint_log(painter)
        painter.end()

    def _paint_clock(self, painter: QPainter) -> None:
        clock = fmt.duration(fmt.elapsed_seconds(self._task, time.time()))
        painter.setFont(self.font())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(self._clock_rect(), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, clock)

    def _render_card(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(self.palette().color(QPalette.ColorRole.Window))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_card(painter)
        self._paint_header(painter)
        area = QRectF(self._log_rect()).adjusted(-4, -4, 4, 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(area, 5, 5)
        painter.end()
        return pixmap

    def _paint_card(self, painter: QPainter) -> None:
        palette = self.palette()
        card = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(card, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(state_color(self._task.state))
        painter.drawRoundedRect(QRectF(0, 6, 4, self.height() - 12), 2, 2)

    def _paint_header(self, painter: QPainter) -> None:
        palette = self.palette()
        task = self._task
        state_icon(task.state).paint(painter, QRect(_PAD + 2, 10, 18, 18))
        painter.setFont(self._bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        title_rect = QRect(_PAD + 26, 10, self.width() - 2 * _PAD - 26 - 80, 18)
        title = painter.fontMetrics().elidedText(fmt.task_title(task), Qt.TextElideMode.ElideRight, title_rect.width())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(self.font())
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        sub = f"{task.state.value.replace('_', ' ')} · {task.agent} · {fmt.short_repo(task.repo)}"
        if task.endpoint:
            sub += f" · {task.endpoint}"
        sub_rect = QRect(_PAD + 26, 30, self.width() - 2 * _PAD - 26, 18)
        painter.drawText(sub_rect, Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(sub, Qt.TextElideMode.ElideRight, sub_rect.width()))

    def _paint_log(self, painter: QPainter) -> None:
        area = self._log_rect()
        painter.setFont(self._mono)
        step = painter.fontMetrics().lineSpacing()
        visible = max(1, area.height() // step)
        lines = list(self._lines)[-visible:]
        text_color = QColor(self.palette().color(QPalette.ColorRole.Text))
        text_color.setAlphaF(0.78)
        painter.setPen(text_color)
        painter.setClipRect(area)  # long lines are cut at the card's edge
        baseline = area.top() + painter.fontMetrics().ascent()
        for line in lines:
            painter.drawText(QPointF(area.left(), baseline), line)
            baseline += step
        painter.setClipping(False)
        if not lines:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "waiting for output…")


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
        for task_id in list(self._dirty)[:REPAINTS_PER_FRAME]:
            del self._dirty[task_id]
            self._tiles[task_id].repaint_log()
        if not self._dirty:
            self._frame.stop()

    def tick(self) -> None:
        """Advance the clocks (once a second)."""
        if self.isVisible():
            for tile in self._tiles.values():
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
