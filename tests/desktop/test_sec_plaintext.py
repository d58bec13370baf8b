"""Agent and batch text is shown literally by Qt, never rendered as rich text.

A title like ``<img src="file:///...">`` would otherwise make Qt load and show a file of
the user's machine in the window, and ``<a href>`` would put a link there.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from desktop.plaintext import plain_tip
from desktop.task_details import TaskDetails
from desktop.wall_tile import TaskTile
from tests.desktop.appkit import snapshot

HOSTILE = '<b>bold</b><img src="file:///{marker}"><a href="https://example.invalid">x</a>'


def test_the_details_show_a_hostile_title_and_repo_literally(qtbot, tmp_path: Path) -> None:
    title = HOSTILE.format(marker=tmp_path / "marker.png")
    details = TaskDetails()
    qtbot.addWidget(details)
    details.show_task(snapshot("t1", title=title, repo=title))
    assert details.title.text() == title
    assert details.title.textFormat() == Qt.TextFormat.PlainText
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in details.labels.values())


def test_a_hostile_prompt_tooltip_renders_as_its_own_text(qtbot, tmp_path: Path) -> None:
    prompt = HOSTILE.format(marker=tmp_path / "marker.png")
    tile = TaskTile(snapshot("t1", prompt=prompt))
    qtbot.addWidget(tile)
    shown = QTextDocument()
    shown.setHtml(tile.toolTip())
    assert shown.toPlainText() == prompt  # what the user reads is the text itself
    assert "<img" not in shown.toHtml().replace("&lt;img", "")  # no image element


def test_an_empty_tip_stays_empty() -> None:
    assert plain_tip("") == ""
