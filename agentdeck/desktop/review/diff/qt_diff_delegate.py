"""Painting of diff rows: gutters, +/- markers, syntax colours and intra-line marks.

Every row has the same height (the view sets uniform item sizes), so a 50 000-line file
costs no more to show than a 50-line one: only the rows on screen are painted.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from agentdeck.desktop.review.diff.highlight import Mark, Span
from agentdeck.desktop.review.diff.qt_diff_model import QtDiffRowsModel
from agentdeck.desktop.review.diff.rows import DiffRow, RowKind
from agentdeck.desktop.widgets.theme import LIGHT, Theme, monospace_font, token_style

Index = QModelIndex | QPersistentModelIndex
_PAD = 10  # pixels between a gutter and the code


class QtDiffRowDelegate(QStyledItemDelegate):
    """Paints `DiffRow` objects of a `QtDiffRowsModel`, unified or side by side."""

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.theme = theme
        self.set_font(monospace_font())

    def set_font(self, font: QFont) -> None:
        """Use ``font`` (fixed width) for code and line numbers."""
        self.font = font
        self.bold = QFont(font)
        self.bold.setBold(True)
        self.italic = QFont(font)
        self.italic.setItalic(True)
        self.metrics = QFontMetrics(font)
        self.char_width = self.metrics.horizontalAdvance("M")
        self.row_height = self.metrics.height() + 6
        self.gutter = self.char_width * 5 + 12  # up to 99 999 lines

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        model = index.model()
        if not isinstance(model, QtDiffRowsModel):
            return QSize(0, self.row_height)
        if model.side_by_side:  # two halves, each as wide as the longest line: both scroll
            return QSize(2 * (self.gutter + 2 * _PAD + (model.widest + 1) * self.char_width),
                         self.row_height)
        code = 2 * self.gutter + 2 * _PAD + (model.widest + 1) * self.char_width
        return QSize(code, self.row_height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model = index.model()
        assert isinstance(model, QtDiffRowsModel)
        row = model.rows[index.row()]
        rect = QRect(option.rect)
        painter.save()
        painter.setFont(self.font)
        if row.kind in (RowKind.HUNK, RowKind.COLLAPSED, RowKind.NOTICE, RowKind.COMMENT):
            self._paint_banner(painter, rect, row, index.data())
        elif model.side_by_side:
            half = rect.width() // 2
            left = QRect(rect.left(), rect.top(), half, rect.height())
            right = QRect(rect.left() + half, rect.top(), rect.width() - half, rect.height())
            self._paint_side(painter, left, row, model, old=True)
            self._paint_side(painter, right, row, model, old=False)
            painter.setPen(self.theme.color("border"))
            painter.drawLine(right.topLeft(), right.bottomLeft())
        else:
            self._paint_unified(painter, rect, row, model)
        if model.is_excluded(row):
            self._paint_left_out(painter, rect, row)
        if row.hunk is not None and row.hunk == model.current_hunk:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()),
                             self.theme.color("link"))
        if option.state & QStyle.StateFlag.State_Selected:
            overlay = QColor(self.theme.color("selection"))
            overlay.setAlpha(150)
            painter.fillRect(rect, overlay)
        painter.restore()

    def _paint_left_out(self, painter: QPainter, rect: QRect, row: DiffRow) -> None:
        """Dim a row Accept leaves out, and strike its code through."""
        veil = QColor(self.theme.color("base"))
        veil.setAlpha(150)
        painter.fillRect(rect, veil)
        if row.kind in (RowKind.CONTEXT, RowKind.REMOVED, RowKind.ADDED, RowKind.CHANGE):
            painter.setPen(self.theme.color("muted"))
            middle = rect.top() + rect.height() // 2
            painter.drawLine(rect.left() + self.gutter, middle, rect.right(), middle)

    def _paint_banner(self, painter: QPainter, rect: QRect, row: DiffRow, text: str) -> None:
        theme = self.theme
        background = "surface" if row.kind in (RowKind.NOTICE, RowKind.COMMENT) else "hunk_bg"
        painter.fillRect(rect, theme.color(background))
        colour = {RowKind.COLLAPSED: "link", RowKind.NOTICE: "text",
                  RowKind.COMMENT: "link"}.get(row.kind, "hunk_fg")
        painter.setPen(theme.color(colour))
        painter.setFont(self.italic if row.kind == RowKind.NOTICE else self.font)
        text_rect = rect.adjusted(self.gutter + _PAD, 0, -_PAD, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_unified(self, painter: QPainter, rect: QRect, row: DiffRow,
                       model: QtDiffRowsModel) -> None:
        old = row.kind == RowKind.REMOVED
        line_bg, gutter_bg, sign = self._row_colours(row.kind)
        painter.fillRect(rect, self.theme.color(line_bg))
        gutters = QRect(rect.left(), rect.top(), 2 * self.gutter, rect.height())
        painter.fillRect(gutters, self.theme.color(gutter_bg))
        self._paint_number(painter, rect.left(), rect, row.old_no)
        self._paint_number(painter, rect.left() + self.gutter, rect, row.new_no)
        line_no = row.old_no if old else row.new_no
        text = row.old_text if old else row.new_text
        spans, marks = self._tokens(model, line_no, old)
        x = rect.left() + 2 * self.gutter
        self._paint_code(painter, x, rect, sign, text, spans, marks, old)

    def _paint_side(self, painter: QPainter, rect: QRect, row: DiffRow,
                    model: QtDiffRowsModel, old: bool) -> None:
        line_no = row.old_no if old else row.new_no
        if line_no is None:
            painter.fillRect(rect, self.theme.color("empty_side"))
            return
        kind = row.kind if row.kind == RowKind.CONTEXT else (
            RowKind.REMOVED if old else RowKind.ADDED)
        line_bg, gutter_bg, sign = self._row_colours(kind)
        painter.fillRect(rect, self.theme.color(line_bg))
        painter.fillRect(QRect(rect.left(), rect.top(), self.gutter, rect.height()),
                         self.theme.color(gutter_bg))
        self._paint_number(painter, rect.left(), rect, line_no)
        spans, marks = self._tokens(model, line_no, old)
        painter.save()
        painter.setClipRect(rect)
        self._paint_code(painter, rect.left() + self.gutter, rect, sign,
                         row.old_text if old else row.new_text, spans, marks, old)
        painter.restore()

    def _row_colours(self, kind: RowKind) -> tuple[str, str, str]:
        if kind == RowKind.REMOVED:
            return "del_bg", "del_gutter", "−"
        if kind == RowKind.ADDED:
            return "add_bg", "add_gutter", "+"
        return "base", "base", " "

    def _tokens(self, model: QtDiffRowsModel, line_no: int | None,
                old: bool) -> tuple[list[Span], list[Mark]]:
        found = model.highlight
        if found is None or line_no is None:
            return [], []
        tokens = found.old_tokens if old else found.new_tokens
        marks = found.old_marks if old else found.new_marks
        return tokens.get(line_no, []), marks.get(line_no, [])

    def _paint_number(self, painter: QPainter, x: int, rect: QRect, number: int | None) -> None:
        if number is None:
            return
        painter.setPen(self.theme.color("muted"))
        box = QRect(x, rect.top(), self.gutter - 8, rect.height())
        painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         str(number))

    def _paint_code(self, painter: QPainter, x: int, rect: QRect, sign: str, text: str,
                    spans: list[Span], marks: list[Mark], old: bool) -> None:
        theme = self.theme
        baseline = rect.top() + (rect.height() + self.metrics.ascent()
                                 - self.metrics.descent()) // 2
        sign_colour = "del_fg" if old else "add_fg"
        painter.setPen(theme.color(sign_colour if sign.strip() else "muted"))
        painter.drawText(x + 4, baseline, sign)
        x += _PAD + self.char_width
        word_bg = theme.color("del_word" if old else "add_word")
        for start, end in marks:
            left, right = self._column_x(text, start), self._column_x(text, end)
            painter.fillRect(QRect(x + left, rect.top() + 1, right - left, rect.height() - 2),
                             word_bg)
        self._paint_tokens(painter, x, baseline, text, spans)

    def _paint_tokens(self, painter: QPainter, x: int, baseline: int, text: str,
                      spans: list[Span]) -> None:
        default = self.theme.color("text")
        column = 0
        for start, end, ttype in spans:
            if start > column:
                painter.setPen(default)
                painter.setFont(self.font)
                painter.drawText(x + self._column_x(text, column), baseline, text[column:start])
            colour, bold, italic = token_style(self.theme.pygments_style, ttype)
            painter.setPen(colour or default)
            painter.setFont(self.bold if bold else self.italic if italic else self.font)
            painter.drawText(x + self._column_x(text, start), baseline, text[start:end])
            column = end
        if column < len(text):
            painter.setPen(default)
            painter.setFont(self.font)
            painter.drawText(x + self._column_x(text, column), baseline, text[column:])

    def _column_x(self, text: str, column: int) -> int:
        # Fixed width holds for ASCII; other text (CJK, emoji) is measured.
        if text.isascii():
            return column * self.char_width
        return self.metrics.horizontalAdvance(text[:column])
