"""Painting of one log row: time, kind badge, ANSI-coloured text, search matches."""
from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from agentdeck.desktop.log.ansi import Color, Span, Style, palette_rgb, parse_ansi
from agentdeck.desktop.log.qt_log_model import QtLogModel, entry_field, is_expandable, summary
from agentdeck.desktop.widgets.theme import LIGHT, Theme, monospace_font, qcolor

Index = QModelIndex | QPersistentModelIndex
BADGES = {"message": "MSG", "tool_call": "TOOL", "tool_result": "RESULT", "command": "CMD",
          "file_edit": "EDIT", "error": "ERROR", "usage": "USAGE", "question": "ASK",
          "system": "SYS", "gap": "LOST"}


class QtLogDelegate(QStyledItemDelegate):
    """Paints rows of a `QtLogModel`; all rows have the same height.

    Attributes:
        query: text to mark in every row (lower case; "" for none).
        current_row: the row of the current search match, marked stronger.
        open_entry: the entry whose details are shown (its chevron points down).
    """

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.theme = theme
        self.query = ""
        self.current_row = -1
        self.open_entry: object = None
        self.set_font(monospace_font())

    def set_font(self, font: QFont) -> None:
        """Use ``font`` (fixed width) for every row."""
        self.font = font
        self._fonts: dict[tuple[bool, bool, bool, bool], QFont] = {}
        self.metrics = QFontMetrics(font)
        self.char_width = self.metrics.horizontalAdvance("M")
        self.row_height = self.metrics.height() + 6
        self.badge_font = QFont(font)
        self.badge_font.setPointSizeF(max(6.0, font.pointSizeF() * 0.78))
        self.badge_font.setBold(True)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        return QSize(self.char_width * 120, self.row_height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model = index.model()
        assert isinstance(model, QtLogModel)
        entry = model.entry(index.row())
        rect = QRect(option.rect)
        stderr = entry_field(entry, "stream") == "stderr"
        kind = entry_field(entry, "kind") or "raw"
        painter.save()
        painter.setFont(self.font)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, self.theme.color("selection"))
        elif kind == "gap":  # lines are missing here: a band the eye cannot miss
            band = QColor(self.theme.badge(kind))
            band.setAlpha(60 if self.theme.dark else 40)
            painter.fillRect(rect, band)
        elif stderr or kind == "error":
            painter.fillRect(rect, self.theme.color("stderr_bg"))
        x = rect.left() + 10
        painter.setPen(self.theme.color("muted"))
        stamp = time.strftime("%H:%M:%S", time.localtime(entry_field(entry, "ts") or 0))
        painter.drawText(QRect(x, rect.top(), self.char_width * 9, rect.height()),
                         Qt.AlignmentFlag.AlignVCenter, stamp)
        x += self.char_width * 9 + 4
        self._paint_badge(painter, QRect(x, rect.top() + 3, self.char_width * 7,
                                         rect.height() - 6), kind)
        x += self.char_width * 7 + 8
        if is_expandable(entry):
            painter.setPen(self.theme.color("muted"))
            painter.drawText(QRect(x, rect.top(), self.char_width * 2, rect.height()),
                             Qt.AlignmentFlag.AlignVCenter,
                             "▾" if entry is self.open_entry else "▸")
        x += self.char_width * 2
        default = self.theme.color("stderr_fg" if stderr or kind == "error" else "text")
        if kind == "system":
            default = self.theme.color("muted")
        elif kind == "gap":
            default = self.theme.badge(kind)
        spans = parse_ansi(summary(entry))
        self._paint_matches(painter, rect, x, "".join(s.text for s in spans), index.row())
        self._paint_spans(painter, rect, x, spans, default)
        painter.restore()

    def _paint_badge(self, painter: QPainter, box: QRect, kind: str) -> None:
        label = BADGES.get(kind)
        if label is None:
            return
        colour = self.theme.badge(kind)
        fill = QColor(colour)
        fill.setAlpha(60 if self.theme.dark else 34)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(box), 4, 4)
        painter.setFont(self.badge_font)
        painter.setPen(colour)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        painter.setFont(self.font)

    def _paint_matches(self, painter: QPainter, rect: QRect, x: int, plain: str,
                       row: int) -> None:
        if not self.query:
            return
        colour = self.theme.color("current_match_bg" if row == self.current_row else "match_bg")
        lowered, start = plain.lower(), 0
        while (found := lowered.find(self.query, start)) >= 0:
            left = x + self._advance(plain, found)
            right = x + self._advance(plain, found + len(self.query))
            painter.fillRect(QRect(left, rect.top() + 2, right - left, rect.height() - 4), colour)
            start = found + len(self.query)

    def _paint_spans(self, painter: QPainter, rect: QRect, x: int, spans: tuple[Span, ...],
                     default: QColor) -> None:
        baseline = rect.top() + (rect.height() + self.metrics.ascent()
                                 - self.metrics.descent()) // 2
        for span in spans:
            width = self._advance(span.text, len(span.text))
            fg, bg = self._colours(span.style, default)
            if bg is not None:
                painter.fillRect(QRect(x, rect.top() + 1, width, rect.height() - 2), bg)
            painter.setPen(fg)
            painter.setFont(self._styled_font(span.style))
            painter.drawText(x, baseline, span.text)
            x += width
            if x > rect.right():
                break

    def _colours(self, style: Style, default: QColor) -> tuple[QColor, QColor | None]:
        fg = self._resolve(style.fg) or default
        bg = self._resolve(style.bg)
        if style.inverse:
            fg, bg = bg or self.theme.color("base"), fg
        if style.dim:
            fg = QColor(fg)
            fg.setAlpha(150)
        return fg, bg

    def _resolve(self, color: Color | None) -> QColor | None:
        if color is None:
            return None
        if isinstance(color, tuple):
            return QColor(*color)
        if color < 16:
            return qcolor(self.theme.ansi[color])
        return QColor(*palette_rgb(color))

    def _styled_font(self, style: Style) -> QFont:
        key = (style.bold, style.italic, style.underline, style.strike)
        font = self._fonts.get(key)
        if font is None:
            font = self._fonts[key] = QFont(self.font)
            font.setBold(style.bold)
            font.setItalic(style.italic)
            font.setUnderline(style.underline)
            font.setStrikeOut(style.strike)
        return font

    def _advance(self, text: str, column: int) -> int:
        # Fixed width holds for ASCII; other text (CJK, emoji) is measured.
        if text.isascii():
            return column * self.char_width
        return self.metrics.horizontalAdvance(text[:column])
