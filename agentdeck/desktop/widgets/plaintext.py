"""Agent-supplied text shown literally: Qt renders a label's or tooltip's text as rich
text (HTML, images, links) whenever it merely looks like HTML, so a task title such as
``<img src=...>`` would be rendered, not shown. Every widget that shows text an agent or
a batch file wrote goes through these."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that never interprets its text as rich text."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_box(icon: QMessageBox.Icon, title: str, text: str,
              parent: QWidget | None = None) -> QMessageBox:
    """A message box whose text (an error naming a task, a path) is shown as it is."""
    box = QMessageBox(icon, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def inert_markup(text: str) -> str:
    """``text`` for a desktop notification: notification servers that take markup render
    ``<a href>`` / ``<img>`` in the body, others show it as typed, so neither escaping nor
    not escaping is right everywhere; the angle brackets become look-alikes instead."""
    return text.replace("<", "‹").replace(">", "›")


def plain_tip(text: str) -> str:
    """A tooltip that shows ``text`` as it is (tooltips have no text format of their own:
    the text is escaped into rich text that keeps its line breaks)."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>" if text else ""


def chart_text(text: str) -> str:
    """``text`` for a QtCharts label or title, which renders HTML (an ``<img>`` in a task
    title would be drawn as an image): escaped so that it shows as typed."""
    return html.escape(text, quote=False)
