"""The code part of the review: one file's diff, unified or side by side.

A `QListView` with uniform row heights over `QtDiffRowsModel`, painted by
`QtDiffRowDelegate`: only visible rows cost anything, whatever the file's size.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QWidget

from agentdeck.desktop.review.diff.highlight import FileHighlight
from agentdeck.desktop.review.diff.patch import FilePatch
from agentdeck.desktop.review.diff.qt_diff_delegate import QtDiffRowDelegate
from agentdeck.desktop.review.diff.qt_diff_model import QtDiffRowsModel
from agentdeck.desktop.review.diff.rows import ParsedFile, RowKind, build_rows, with_comments
from agentdeck.desktop.widgets.theme import LIGHT, Theme


class QtDiffView(QListView):
    """Shows one file's rows; clicking a "⋯ N unchanged lines" row unfolds it."""

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT,
                 context: int = 3) -> None:
        super().__init__(parent)
        self.context = context
        self.side_by_side = False
        self._file: tuple[FilePatch, ParsedFile] | None = None
        self._comments: dict[int, list[str]] = {}  # last new-side line -> comment texts
        self.rows_model = QtDiffRowsModel(self)
        self.delegate = QtDiffRowDelegate(self, theme)
        self.setModel(self.rows_model)
        self.setItemDelegate(self.delegate)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.clicked.connect(self._on_clicked)
        self.activated.connect(self._on_clicked)
        self.set_theme(theme)

    def show_file(self, patch: FilePatch, parsed: ParsedFile,
                  highlight: FileHighlight | None = None,
                  comments: dict[int, list[str]] | None = None) -> None:
        """Display a file (``highlight`` may come later through `set_highlight`) with
        ``comments`` (last new-side line -> texts) under their lines."""
        self._file = (patch, parsed)
        self._comments = dict(comments or {})
        self._rebuild(highlight)
        self.scrollToTop()

    def clear(self) -> None:
        """Show nothing."""
        self._file = None
        self.rows_model.set_rows([], self.side_by_side)

    def set_side_by_side(self, on: bool) -> None:
        """Switch between the unified and the side-by-side layout."""
        if on == self.side_by_side:
            return
        self.side_by_side = on
        self._rebuild(self.rows_model.highlight)

    def set_comments(self, comments: dict[int, list[str]]) -> None:
        """Show these comments (last new-side line -> texts) in the shown file."""
        self._comments = dict(comments)
        self._rebuild(self.rows_model.highlight)

    def selected_new_lines(self) -> tuple[int, int] | None:
        """The first and last new-side line of the selected rows (or the current row)."""
        indexes = self.selectionModel().selectedIndexes() or [self.currentIndex()]
        rows = self.rows_model.rows
        lines = [rows[i.row()].new_no for i in indexes if i.isValid()
                 and rows[i.row()].kind != RowKind.COMMENT and rows[i.row()].new_no is not None]
        return (min(lines), max(lines)) if lines else None

    def set_hunk_marks(self, excluded: frozenset[int], all_excluded: bool,
                       current: int | None) -> None:
        """Mark the hunks (from 0) left out of the accept and the current one."""
        self.rows_model.set_hunk_marks(excluded, all_excluded, current)

    def show_hunk(self, hunk: int) -> None:
        """Scroll hunk ``hunk``'s header to the top and make it the current row."""
        row = self.rows_model.hunk_row(hunk)
        if row is not None:
            index = self.rows_model.index(row)
            self.setCurrentIndex(index)
            self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)

    def current_hunk_row(self) -> int | None:
        """The hunk (from 0) of the current row, None when it shows none."""
        index = self.currentIndex()
        return self.rows_model.rows[index.row()].hunk if index.isValid() else None

    def set_highlight(self, highlight: FileHighlight | None) -> None:
        """Colour the shown file with tokens computed by the highlighter."""
        self.rows_model.set_highlight(highlight)

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme``'s colours."""
        self.delegate.theme = theme
        self.setStyleSheet(
            f"QListView {{ background: {theme.base}; border: none; outline: none; }}")
        self.viewport().update()

    def expand_row(self, row: int) -> bool:
        """Unfold the collapsed row at ``row``; False when that row is not folded."""
        return self.rows_model.expand(row)

    def selected_text(self) -> str:
        """The selected rows as text, in row order."""
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        return "\n".join(self.rows_model.rows[row].text for row in rows)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.matches(QKeySequence.StandardKey.Copy):
            QGuiApplication.clipboard().setText(self.selected_text())
            return
        super().keyPressEvent(event)

    def _rebuild(self, highlight: FileHighlight | None) -> None:
        if self._file is None:
            return
        patch, parsed = self._file
        rows = with_comments(build_rows(patch, parsed, self.side_by_side, self.context),
                             self._comments)
        self.rows_model.set_rows(rows, self.side_by_side, highlight)

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and self.rows_model.rows[index.row()].kind == RowKind.COLLAPSED:
            self.expand_row(index.row())
