"""Agent and batch text is shown literally by Qt, never rendered as rich text.

A title like ``<img src="file:///...">`` would otherwise make Qt load and show a file of
the user's machine in the window, and ``<a href>`` would put a link there.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QMessageBox

from agentdeck.desktop.tasks.qt_task_model import Column, TaskTableModel
from agentdeck.desktop.widgets.plaintext import inert_markup, plain_box, plain_tip
from agentdeck.desktop.window.status_bar import BatchProgress
from agentdeck.desktop.tasks.task_details import TaskDetails
from agentdeck.desktop.wall.wall_tile import TaskTile
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


# -- the image really would load: a title that Qt renders grows to the image's size ------

def _marker_image(path: Path) -> Path:
    image = QImage(240, 240, QImage.Format.Format_RGB32)
    image.fill(0x00FF00)
    assert image.save(str(path))
    return path


def _shown_height(label: QLabel) -> int:
    label.adjustSize()
    return label.sizeHint().height()


def test_a_hostile_title_loads_no_image(qtbot, tmp_path: Path) -> None:
    title = f'<b>x</b><img src="file://{_marker_image(tmp_path / "marker.png")}">'
    rendered = QLabel(title)  # what Qt does with such text by default: the trace
    qtbot.addWidget(rendered)
    assert _shown_height(rendered) >= 240
    details = TaskDetails()
    qtbot.addWidget(details)
    details.show_task(snapshot("t1", title=title, error=title))
    assert details.title.text() == title
    assert details.title.textFormat() == Qt.TextFormat.PlainText
    assert _shown_height(details.title) < 100


def test_task_table_tooltips_show_prompt_repo_and_error_as_typed(qtbot, tmp_path: Path) -> None:
    hostile = HOSTILE.format(marker=_marker_image(tmp_path / "marker.png"))
    model = TaskTableModel()
    model.reset([snapshot("t1", prompt=hostile, repo=hostile, error=hostile)])
    for column in (Column.TITLE, Column.REPO, Column.STATE):
        tip = model.data(model.index(0, column), Qt.ItemDataRole.ToolTipRole)
        shown = QTextDocument()
        shown.setHtml(tip)
        assert shown.toPlainText() == hostile
        assert "<img" not in shown.toHtml().replace("&lt;img", "")


def test_batch_name_error_boxes_and_notifications_are_inert(qtbot) -> None:
    progress = BatchProgress()
    qtbot.addWidget(progress)
    progress.set_progress("<b>night</b>", {"total": 2, "done": 1})
    assert progress.label.textFormat() == Qt.TextFormat.PlainText
    assert "<b>night</b>" in progress.label.text()
    box = plain_box(QMessageBox.Icon.Critical, "agentdeck", '<a href="https://x.invalid">y</a>')
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert inert_markup('<a href="u">t</a>') == '‹a href="u"›t‹/a›'
