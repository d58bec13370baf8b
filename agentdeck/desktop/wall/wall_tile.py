"""One wall tile: a self-painted card with a task's state, clock and log tail.

The card and header are cached in a pixmap that changes only with the task, its size or
the palette, and the tile is opaque, so a repaint is one blit plus a few lines of text.
"""
from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor, QFont, QFontDatabase, QMouseEvent, QPainter, QPaintEvent, QPalette, QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.widgets.icons import state_color, state_icon
from agentdeck.desktop.widgets.plaintext import plain_tip
from agentdeck.engine.models import LogEntry, Task

TAIL_LINES = 8
TILE_WIDTH = 340
TILE_HEIGHT = 196
_PAD = 10
_HEADER = 44
_MAX_CHARS = 240  # wider than any tile; bounds the text layout work per line
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def tail_text(entry: LogEntry) -> str:
    """The last line of an entry's text without terminal escape codes or tabs."""
    lines = entry.text.rstrip("\n").splitlines() or [""]
    return _ANSI.sub("", lines[-1]).replace("\t", "    ")


def _card_fields(task: Task) -> tuple:
    """What the cached card shows of a task (the clock and log are painted over it)."""
    return (task.state, fmt.task_title(task), task.agent, task.repo, task.endpoint, task.prompt)


class TaskTile(QWidget):
    """A self-painted card: state, title, elapsed, agent · repo, last log lines.

    Signals:
        clicked(str): the task id, when the tile is clicked.
    """

    clicked = Signal(str)

    def __init__(self, task: Task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._task = task
        self._entries: deque[LogEntry] = deque(maxlen=TAIL_LINES)  # made into text when shown
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
        self.setToolTip(plain_tip(task.prompt[:500]))

    @property
    def task(self) -> Task:
        """The snapshot shown."""
        return self._task

    @property
    def lines(self) -> list[str]:
        """The log tail shown, oldest first."""
        return [tail_text(e)[:_MAX_CHARS] for e in self._entries]

    def sizeHint(self) -> QSize:
        return QSize(TILE_WIDTH, TILE_HEIGHT)

    def set_task(self, task: Task) -> None:
        """Show a newer snapshot of the same task.

        Most snapshots change only counters the card does not show (tokens, cost): those
        keep the cached card, so a second's worth of snapshots for every tile does not
        redraw every card in one frame.
        """
        shown = _card_fields(self._task) != _card_fields(task)
        self._task = task
        if shown:
            self._card = None
            self.setToolTip(plain_tip(task.prompt[:500]))
            self.update()

    def add_entries(self, entries: Iterable[LogEntry]) -> None:
        """Append log entries to the tail (only the last few are kept); no repaint yet.

        They become text only when painted: of 200 tiles, the 20 in view."""
        self._entries.extend(entries)

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
        lines = self.lines[-visible:]
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
