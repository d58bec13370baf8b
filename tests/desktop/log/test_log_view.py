"""The log view as a user drives it: follow-tail, paging at the top, search, details, copy."""
from __future__ import annotations

import bisect

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMainWindow

from agentdeck.desktop.log import LogView
from agentdeck.desktop.widgets.theme import DARK
from agentdeck.engine.models import EntryKind, LogEntry, Stream


def _entry(seq: int, text: str | None = None, kind: EntryKind = EntryKind.RAW,
           data: dict | None = None, stream: Stream = Stream.STDOUT) -> LogEntry:
    return LogEntry("t1", seq, 1_700_000_000.0 + seq, 1, stream, kind,
                    text if text is not None else f"line {seq}", data)


@pytest.fixture
def view(qtbot) -> LogView:
    widget = LogView()
    qtbot.addWidget(widget)
    widget.resize(800, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _bar(view: LogView):
    return view.list.verticalScrollBar()


def _at_bottom(view: LogView) -> bool:
    return _bar(view).value() == _bar(view).maximum() > 0


def _last_visible_row(view: LogView) -> int:
    return view.list.indexAt(view.list.viewport().rect().bottomLeft()).row()


def test_follows_the_tail_until_scrolled_up_and_again_at_the_bottom(view, qtbot) -> None:
    view.append_entries([_entry(s) for s in range(1, 501)])
    qtbot.waitUntil(lambda: _last_visible_row(view) == 499)
    assert view.following and view.follow_button.isHidden()
    _bar(view).setValue(_bar(view).maximum() // 2)  # the user scrolls up
    assert not view.following and not view.follow_button.isHidden()
    view.append_entries([_entry(s) for s in range(501, 601)])
    qtbot.waitUntil(lambda: _bar(view).maximum() > 2 * _bar(view).value() + 50)
    assert not view.following and _last_visible_row(view) < 400  # stayed where it was
    _bar(view).setValue(_bar(view).maximum())  # ... and back down
    assert view.following
    view.append_entries([_entry(s) for s in range(601, 701)])
    qtbot.waitUntil(lambda: _last_visible_row(view) == 699)
    assert _at_bottom(view)


def test_follow_button_jumps_back_to_the_tail(view, qtbot) -> None:
    view.append_entries([_entry(s) for s in range(1, 301)])
    qtbot.waitUntil(lambda: _at_bottom(view))
    _bar(view).setValue(0)
    view.append_entries([_entry(s) for s in range(301, 401)])
    qtbot.mouseClick(view.follow_button, Qt.MouseButton.LeftButton)
    assert view.following and _at_bottom(view)


def test_a_million_lines_in_batches_keep_the_tail_in_view(view, qtbot) -> None:
    for start in range(0, 1_000_000, 10_000):
        view.append_entries([{"seq": s, "ts": 0.0, "stream": "stdout", "kind": "raw",
                              "text": f"row {s}", "data": None}
                             for s in range(start + 1, start + 10_001)])
        if start % 100_000 == 0:
            qtbot.wait(1)  # let the view run between bursts, as the 30 Hz bridge would
    qtbot.waitUntil(lambda: _last_visible_row(view) == 999_999)
    assert view.model.rowCount() == 1_000_000
    assert view.model.index(999_999).data() == "row 1000000"
    assert view.following and _at_bottom(view)


def test_scrolling_to_the_top_pages_older_lines_and_keeps_them_still(qtbot) -> None:
    stored = [_entry(s) for s in range(1, 5001)]
    calls: list[int | None] = []

    def fetch_page(before_seq: int | None, limit: int) -> list[LogEntry]:
        calls.append(before_seq)
        end = len(stored) if before_seq is None else bisect.bisect_left(
            [e.seq for e in stored], before_seq)
        return stored[max(0, end - limit):end]

    view = LogView()
    qtbot.addWidget(view)
    view.resize(800, 400)
    view.show()
    view.model.page_size = 500
    view.set_source(fetch_page)
    qtbot.waitUntil(lambda: _at_bottom(view))
    assert calls == [None] and view.model.entry(0).seq == 4501
    _bar(view).setValue(0)
    assert calls == [None, 4501]
    assert view.model.rowCount() == 1000
    top = view.list.indexAt(view.list.viewport().rect().topLeft())
    assert view.model.entry(top.row()).seq == 4501  # the line on top did not move
    assert not view.following


def test_ctrl_f_in_the_log_opens_its_search_under_a_window_with_its_own_ctrl_f(qtbot) -> None:
    """The main window's Ctrl+F finds tasks; in the log it must open the log's search (both
    on one key used to make it ambiguous, and Qt then ran neither)."""
    window = QMainWindow()
    qtbot.addWidget(window)
    window_find = QAction("Find", window, shortcut=QKeySequence.StandardKey.Find)
    window.addAction(window_find)
    found_tasks = []
    window_find.triggered.connect(lambda: found_tasks.append(True))
    view = LogView()
    window.setCentralWidget(view)
    window.show()
    qtbot.waitExposed(window)
    view.list.setFocus()
    qtbot.keyClick(view.list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.search.isVisible() and found_tasks == []


def test_search_finds_next_and_previous_and_marks_the_match(view, qtbot) -> None:
    view.append_entries([_entry(1, "build started"), _entry(2, "\x1b[31merror\x1b[0m: x"),
                         _entry(3, "ok"), _entry(4, "another error here")])
    qtbot.keyClick(view.list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.search.isVisible()
    with qtbot.waitSignal(view.search.query_changed):
        qtbot.keyClicks(view.search.edit, "ERROR")
    assert view.list.currentIndex().row() == 1
    assert view.delegate.query == "error" and view.delegate.current_row == 1
    qtbot.keyClick(view.search.edit, Qt.Key.Key_Return)
    assert view.list.currentIndex().row() == 3
    qtbot.keyClick(view.search.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.list.currentIndex().row() == 1
    with qtbot.waitSignal(view.search.query_changed):
        qtbot.keyClicks(view.search.edit, "zzz")
    assert view.search.status.text() == "no match"
    qtbot.keyClick(view.search.edit, Qt.Key.Key_Escape)
    assert not view.search.isVisible() and view.delegate.query == ""


def test_clicking_a_command_shows_its_output(view, qtbot) -> None:
    view.append_entries([_entry(1, "hello"), _entry(
        2, "pytest -q", EntryKind.COMMAND,
        {"command": "pytest -q", "output": "\x1b[32m3 passed\x1b[0m", "exit_code": 0})])
    rect = view.list.visualRect(view.model.index(1))
    qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.details.isVisible()
    assert view.details.toPlainText() == "$ pytest -q\n\n3 passed\n\nexit code 0"
    qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not view.details.isVisible()
    rect = view.list.visualRect(view.model.index(0))
    qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not view.details.isVisible()  # a plain line has nothing more to show


def test_copy_gives_the_selected_lines_without_escape_codes(view, qtbot) -> None:
    view.append_entries([_entry(1, "one"), _entry(2, "\x1b[1mtwo\x1b[0m", stream=Stream.STDERR),
                         _entry(3, "three")])
    selection = view.list.selectionModel()
    for row in (2, 0, 1):
        selection.select(view.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    view.list.setFocus()
    qtbot.keyClick(view.list, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "one\ntwo\nthree"


def test_rows_paint_in_both_themes(view, qtbot) -> None:
    view.append_entries([_entry(1, "\x1b[38;5;208morange\x1b[0m", EntryKind.MESSAGE),
                         _entry(2, "boom", EntryKind.ERROR, stream=Stream.STDERR)])
    light = view.grab().toImage()
    view.set_theme(DARK)
    dark = view.grab().toImage()
    point = (view.width() - 30, view.height() - 30)
    assert light.pixelColor(*point).lightness() > 200
    assert dark.pixelColor(*point).lightness() < 60


def test_lost_output_is_a_row_that_stands_out(view, qtbot) -> None:
    view.append_entries([_entry(1, "a line"),
                         _entry(2, "output lost: ...", EntryKind.GAP,
                                {"lost_after": 1.0, "lost_before": 2.0}, Stream.SYSTEM),
                         _entry(3, "boom", EntryKind.ERROR, stream=Stream.STDERR)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 3)
    image = view.list.viewport().grab().toImage()

    def background(row: int):
        rect = view.list.visualRect(view.model.index(row))
        return image.pixelColor(rect.right() - 5, rect.center().y()).name()

    assert len({background(0), background(1), background(2)}) == 3
