"""Icons drawn for agentdeck (agentdeck/resources/icons/*.svg), tinted for the current palette.

Tool icons use ``currentColor``; it is replaced by the palette's text colour so they read
well on light and dark themes. State icons carry their own colours.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from agentdeck.engine.api import resource_path
from agentdeck.engine.models import TaskState

ICON_DIR = resource_path("icons")  # also inside a PyInstaller bundle

#: One colour per task state, shared by table text, tiles and the SVG state icons.
STATE_COLORS: dict[TaskState, str] = {
    TaskState.QUEUED: "#8b95a5",
    TaskState.PREPARING: "#8b5cf6",
    TaskState.RUNNING: "#3b82f6",
    TaskState.NEEDS_INPUT: "#f59e0b",
    TaskState.SUCCEEDED: "#16a34a",
    TaskState.FAILED: "#dc2626",
    TaskState.CANCELLED: "#6b7280",
    TaskState.TIMED_OUT: "#ea580c",
}

_SIZES = (16, 20, 24, 32, 48, 64)


def _text_color() -> str:
    app = QApplication.instance()
    if app is None:
        return "#444444"
    return app.palette().color(QPalette.ColorRole.WindowText).name()


def _render(svg: bytes, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    pixels = round(size * ratio)
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, pixels, pixels))
    painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


@lru_cache(maxsize=128)
def _icon(name: str, color: str) -> QIcon:
    svg = (ICON_DIR / f"{name}.svg").read_bytes().replace(b"currentColor", color.encode())
    app = QApplication.instance()
    ratio = app.devicePixelRatio() if app is not None else 1.0
    icon = QIcon()
    for size in _SIZES:
        icon.addPixmap(_render(svg, size, ratio))
    return icon


def icon(name: str) -> QIcon:
    """The icon ``agentdeck/resources/icons/<name>.svg`` tinted with the palette's text colour."""
    return _icon(name, _text_color())


def state_icon(state: TaskState) -> QIcon:
    """The coloured round icon of a task state."""
    return _icon(f"state-{state.value}", "#000000")


def state_color(state: TaskState) -> QColor:
    """The colour of a task state."""
    return QColor(STATE_COLORS[state])

