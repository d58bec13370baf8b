"""The live log of one task: virtualized rows, follow-tail, search, details, copy.

Follow-tail: while the view sits at the bottom it stays there as lines arrive; scrolling
up stops following, scrolling back down (or the "⤓ follow" button) resumes it.
Reaching the top asks the model for an older page and keeps the lines on screen still.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHeaderView, QPlainTextEdit, QSplitter,
                               QTableView, QToolButton, QVBoxLayout, QWidget)

from agentdeck.desktop.log.ansi import strip_ansi
from agentdeck.desktop.log.qt_log_delegate import QtLogDelegate
from agentdeck.desktop.log.qt_log_model import Entry, FetchPage, QtLogModel, details, is_expandable
from agentdeck.desktop.log.qt_log_search import QtLogSearchBar
from agentdeck.desktop.widgets.theme import LIGHT, Theme, monospace_font, palette_for, scrollbar_css


class QtLogView(QWidget):
    """A task's log.

    Signals:
        following_changed(bool): follow-tail was switched on or off.
    """

    following_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT,
                 fetch_page: FetchPage | None = None) -> None:
        super().__init__(parent)
        self.following = True
        self._scroll_queued = False
        self._keep_from_bottom: int | None = None  # set while older lines are prepended
        self.model = QtLogModel(fetch_page, parent=self)
        self.delegate = QtLogDelegate(self, theme)
        self.list = self._build_list()
        self.details = QPlainTextEdit(self, readOnly=True)
        self.details.setFont(monospace_font())
        self.details.setFrameShape(QFrame.Shape.NoFrame)
        self.details.hide()
        self.search = QtLogSearchBar(self)
        self.search.hide()
        self.follow_button = QToolButton(self.list, text="⤓ follow", objectName="follow")
        self.follow_button.clicked.connect(lambda: self.set_following(True))
        self.follow_button.hide()
        self._build_layout()
        self._connect()
        self.set_theme(theme)

    def append_entries(self, entries: Sequence[Entry]) -> None:
        """Add live entries (one model insert for the whole batch)."""
        self.model.append_entries(entries)

    def set_source(self, fetch_page: FetchPage | None) -> None:
        """Show another log: forget the lines and page from ``fetch_page``."""
        self.model.set_source(fetch_page)
        self.details.hide()
        self.set_following(True)
        if self.model.canFetchMore(QModelIndex()):
            self.model.fetchMore(QModelIndex())

    def set_following(self, on: bool) -> None:
        """Follow the tail (scroll to the newest line and stay there) or stop."""
        if on:
            self.list.scrollToBottom()
        self._set_follow_state(on)

    def find(self, query: str, forward: bool = True, here: bool = False) -> int | None:
        """Select the next row containing ``query`` (case-insensitive); None if none does.

        ``here``: the current row counts too (typing refines the match in place).
        """
        self.delegate.query = query.lower()
        current = self.list.currentIndex()
        if current.isValid():
            start = current.row() - (1 if here else 0)
        else:
            start = self.model.rowCount() - 1 if forward else self.model.rowCount()
        row = self.model.find(query, start, forward)
        self.delegate.current_row = -1 if row is None else row
        self.search.show_result(row is not None)
        if row is not None:
            self._set_follow_state(False)
            index = self.model.index(row)
            self.list.setCurrentIndex(index)
            self.list.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.list.viewport().update()
        return row

    def selected_text(self) -> str:
        """The selected lines, escape codes removed, in log order."""
        rows = sorted(i.row() for i in self.list.selectionModel().selectedIndexes())
        return "\n".join(self.model.plain_text(row) for row in rows)

    def copy_selection(self) -> None:
        """Put the selected lines on the clipboard."""
        QGuiApplication.clipboard().setText(self.selected_text())

    def toggle_details(self, row: int) -> None:
        """Show the full entry at ``row`` under the list, or hide it if already shown."""
        entry = self.model.entry(row)
        if self.details.isVisible() and self.delegate.open_entry is entry:
            self.delegate.open_entry = None
            self.details.hide()
        else:
            self.delegate.open_entry = entry
            self.details.setPlainText(strip_ansi(details(entry)))
            self.details.show()
        self.list.viewport().update()

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme``'s colours."""
        self.delegate.theme = theme
        self.setPalette(palette_for(theme))
        self.search.set_theme(theme)
        self.setStyleSheet(
            f"QTableView, QPlainTextEdit {{ background: {theme.base}; color: {theme.text};"
            f" border: none; selection-background-color: {theme.selection}; }}"
            f"QPlainTextEdit {{ border-top: 1px solid {theme.border}; padding: 6px 10px; }}"
            f"QToolButton#follow {{ background: {theme.link}; color: {theme.accent_text};"
            f" border: none; border-radius: 12px; padding: 4px 12px; font-weight: 600; }}"
            + scrollbar_css(theme))
        self.list.viewport().update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.list and event.type() == QEvent.Type.Resize:
            self._place_follow_button()
        if watched is self.list and _is_find(event):
            # The window's Ctrl+F (find a task) would otherwise make the key ambiguous here,
            # and Qt then runs neither: claiming it lets the log's own search open.
            if event.type() == QEvent.Type.KeyPress:
                self._open_search()
            event.accept()
            return True
        return super().eventFilter(watched, event)

    def _build_list(self) -> QTableView:
        # A one-column QTableView rather than a QListView: QListView lays out every row
        # again after each insert (a Python rowCount() call per row: ~2 s at 1M lines),
        # while QTableView with fixed row heights keeps only a header of sizes (~1 ms).
        view = QTableView(self)
        view.setModel(self.model)
        view.setItemDelegate(self.delegate)
        view.horizontalHeader().hide()
        view.horizontalHeader().setStretchLastSection(True)
        rows = view.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.delegate.row_height)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setCornerButtonEnabled(False)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.installEventFilter(self)
        return view

    def _build_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.search)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

    def _connect(self) -> None:
        bar = self.list.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        self.model.rowsAboutToBeInserted.connect(self._on_rows_about_to_be_inserted)
        self.model.rowsInserted.connect(self._on_rows_inserted)
        self.list.clicked.connect(self._on_clicked)
        self.search.query_changed.connect(lambda text: self.find(text, True, here=True))
        self.search.next_requested.connect(lambda: self.find(self.search.text(), True))
        self.search.previous_requested.connect(lambda: self.find(self.search.text(), False))
        self.search.closed.connect(self._on_search_closed)
        copy = QShortcut(QKeySequence.StandardKey.Copy, self.list)
        copy.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy.activated.connect(self.copy_selection)

    def _open_search(self) -> None:
        self.search.open()

    def _on_search_closed(self) -> None:
        self.delegate.query = ""
        self.delegate.current_row = -1
        self.list.viewport().update()
        self.list.setFocus()

    def _on_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and is_expandable(self.model.entry(index.row())):
            self.toggle_details(index.row())

    def _on_scrolled(self, value: int) -> None:
        bar = self.list.verticalScrollBar()
        self._set_follow_state(value >= bar.maximum() - self.delegate.row_height // 2)
        if value == bar.minimum() and bar.maximum() > 0:
            self.model.want_older = True
            if self.model.canFetchMore(QModelIndex()):
                self.model.fetchMore(QModelIndex())

    def _on_rows_about_to_be_inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        if first == 0 and self.model.rowCount() > 0:
            bar = self.list.verticalScrollBar()
            self._keep_from_bottom = bar.maximum() - bar.value()

    def _on_rows_inserted(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        keep, self._keep_from_bottom = self._keep_from_bottom, None
        if keep is not None:
            self.list.doItemsLayout()  # the scroll range must count the new rows now
            bar = self.list.verticalScrollBar()
            bar.setValue(bar.maximum() - keep)
        elif self.following and not self._scroll_queued:
            # Coalesced: a burst of batches costs one scroll (one layout) per event loop turn.
            self._scroll_queued = True
            QTimer.singleShot(0, self._scroll_to_tail)

    def _scroll_to_tail(self) -> None:
        self._scroll_queued = False
        if self.following:
            self.list.scrollToBottom()

    def _set_follow_state(self, on: bool) -> None:
        self.follow_button.setVisible(not on)
        if on != self.following:
            self.following = on
            self.following_changed.emit(on)

    def _place_follow_button(self) -> None:
        button = self.follow_button
        button.adjustSize()
        margin = 16 + self.list.verticalScrollBar().width()
        button.move(self.list.width() - button.width() - margin,
                    self.list.height() - button.height() - 12)


def _is_find(event: QEvent) -> bool:
    """A Ctrl+F press, or Qt asking whether a widget wants it before shortcuts do."""
    return (event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)
            and event.matches(QKeySequence.StandardKey.Find))
