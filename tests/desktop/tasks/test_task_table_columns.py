"""The task table's columns as a user handles them: wide enough to read, every one resizable."""
from __future__ import annotations

from PySide6.QtWidgets import QHeaderView

from agentdeck.desktop.tasks.qt_task_model import Column


def test_the_title_column_can_be_resized_and_starts_readable(qtbot, open_session, tmp_path):
    session = open_session(tmp_path / "home")
    window = session.window
    window.resize(1000, 600)
    window.show()
    qtbot.waitExposed(window)
    header = window.table.horizontalHeader()
    assert header.sectionSize(Column.TITLE) >= 200
    for column in Column:
        assert header.sectionResizeMode(column) == QHeaderView.ResizeMode.Interactive or (
            column == Column.REVIEW and header.stretchLastSection())
    header.resizeSection(Column.TITLE, 420)  # what dragging its edge does
    assert header.sectionSize(Column.TITLE) == 420
