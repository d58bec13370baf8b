"""Light and dark palettes of agentdeck, and the colours of diffs and logs in each.

The app follows the system colour scheme unless the user picks one (`ThemeWatcher`).
Widgets that paint by hand (diff rows, log rows) take a `Theme` and look colours up at
paint time, so switching themes is one `set_theme` call and a repaint.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pygments.style import StyleMeta
from pygments.styles import get_style_by_name
from pygments.token import _TokenType
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: LIGHT, DARK
class Theme:
    """Named colours (``#rrggbb``) of one theme; `color` turns one into a `QColor`."""

    name: str
    dark: bool
    pygments_style: str
    base: str
    surface: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    link: str
    selection: str
    add_bg: str
    add_gutter: str
    add_word: str
    add_fg: str
    del_bg: str
    del_gutter: str
    del_word: str
    del_fg: str
    hunk_bg: str
    hunk_fg: str
    empty_side: str
    warn_bg: str
    warn_fg: str
    stderr_fg: str
    stderr_bg: str
    match_bg: str
    current_match_bg: str
    ansi: tuple[str, ...]
    badges: dict[str, str] = field(default_factory=dict)

    def color(self, name: str) -> QColor:
        """The named colour as a `QColor` (cached)."""
        return qcolor(getattr(self, name))

    def badge(self, kind: str) -> QColor:
        """Badge colour of a log entry kind (``"command"``, ``"error"``, ...)."""
        return qcolor(self.badges.get(kind, self.muted))


_BADGES_LIGHT = {"message": "#0969da", "tool_call": "#8250df", "tool_result": "#8250df",
                 "command": "#1a7f37", "file_edit": "#0a7ea4", "error": "#cf222e",
                 "usage": "#9a6700", "question": "#bc4c00", "system": "#6e7781",
                 "gap": "#bf3989"}
_BADGES_DARK = {"message": "#4493f8", "tool_call": "#ab7df8", "tool_result": "#ab7df8",
                "command": "#3fb950", "file_edit": "#39c5cf", "error": "#f85149",
                "usage": "#d29922", "question": "#db6d28", "system": "#8b949e",
                "gap": "#db61a2"}

LIGHT = Theme(
    name="light", dark=False, pygments_style="xcode",
    base="#ffffff", surface="#f6f8fa", text="#1f2328", muted="#656d76", border="#d0d7de",
    accent="#1f883d", accent_text="#ffffff", link="#0969da", selection="#ddf4ff",
    add_bg="#e6ffec", add_gutter="#ccffd8", add_word="#abf2bc", add_fg="#1a7f37",
    del_bg="#ffebe9", del_gutter="#ffd7d5", del_word="#ffb8b4", del_fg="#cf222e",
    hunk_bg="#ddf4ff", hunk_fg="#57606a", empty_side="#f3f5f7",
    warn_bg="#fff8c5", warn_fg="#7d4e00",
    stderr_fg="#b3261e", stderr_bg="#fff5f5", match_bg="#fff2a8", current_match_bg="#ffcf40",
    ansi=("#24292f", "#cf222e", "#116329", "#4d2d00", "#0969da", "#8250df", "#1b7c83",
          "#6e7781", "#57606a", "#a40e26", "#1a7f37", "#633c01", "#218bff", "#a475f9",
          "#3192aa", "#8c959f"),
    badges=_BADGES_LIGHT,
)

DARK = Theme(
    name="dark", dark=True, pygments_style="github-dark",
    base="#0d1117", surface="#161b22", text="#e6edf3", muted="#8b949e", border="#30363d",
    accent="#238636", accent_text="#ffffff", link="#4493f8", selection="#1c2d41",
    add_bg="#12261e", add_gutter="#1a3d2a", add_word="#1f6a3a", add_fg="#3fb950",
    del_bg="#25171c", del_gutter="#482127", del_word="#7d2a31", del_fg="#f85149",
    hunk_bg="#131d2e", hunk_fg="#8b949e", empty_side="#11151c",
    warn_bg="#2f2410", warn_fg="#e3b341",
    stderr_fg="#ff7b72", stderr_bg="#1d1417", match_bg="#4d3b00", current_match_bg="#9e6a03",
    ansi=("#484f58", "#ff7b72", "#3fb950", "#d29922", "#58a6ff", "#bc8cff", "#39c5cf",
          "#b1bac4", "#6e7681", "#ffa198", "#56d364", "#e3b341", "#79c0ff", "#d2a8ff",
          "#56d4dd", "#ffffff"),
    badges=_BADGES_DARK,
)


@functools.lru_cache(maxsize=1024)
def qcolor(value: str) -> QColor:
    """A cached `QColor` for ``#rrggbb``."""
    return QColor(value)


@functools.lru_cache(maxsize=4096)
def token_style(style_name: str, ttype: _TokenType) -> tuple[QColor | None, bool, bool]:
    """(colour or None, bold, italic) of a Pygments token type in a Pygments style."""
    style: StyleMeta = get_style_by_name(style_name)
    spec = style.style_for_token(ttype)
    colour = QColor("#" + spec["color"]) if spec["color"] else None
    return colour, bool(spec["bold"]), bool(spec["italic"])


def monospace_font(point_size: float = 0) -> QFont:
    """The system fixed-width font, optionally resized."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSizeF(point_size)
    return font


def system_prefers_dark() -> bool:
    """True when the desktop asks for a dark colour scheme."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(mode: str = "system") -> Theme:
    """The theme for ``"light"``, ``"dark"`` or ``"system"`` (the desktop's choice)."""
    if mode == "system":
        return DARK if system_prefers_dark() else LIGHT
    return {"light": LIGHT, "dark": DARK}[mode]


def palette_for(theme: Theme) -> QPalette:
    """A `QPalette` in the theme's colours, for `QApplication.setPalette`."""
    pal = QPalette()
    roles = QPalette.ColorRole
    for role, name in ((roles.Window, "surface"), (roles.Base, "base"),
                       (roles.AlternateBase, "surface"), (roles.WindowText, "text"),
                       (roles.Text, "text"), (roles.ButtonText, "text"),
                       (roles.Button, "surface"), (roles.Highlight, "selection"),
                       (roles.HighlightedText, "text"), (roles.PlaceholderText, "muted"),
                       (roles.ToolTipBase, "surface"), (roles.ToolTipText, "text"),
                       (roles.Mid, "border"), (roles.Link, "accent")):
        pal.setColor(role, theme.color(name))
    return pal


class ThemeWatcher(QObject):
    """Holds the chosen mode and says when the effective theme changes.

    Signals:
        changed(Theme): the theme to use now (user choice or system switch).
    """

    changed = Signal(object)

    def __init__(self, mode: str = "system", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = mode
        self.theme = resolve(mode)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_changed)

    def set_mode(self, mode: str) -> None:
        """Pick ``"light"``, ``"dark"`` or ``"system"``."""
        self._mode = mode
        self._update()

    def _on_system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._mode == "system":
            self._update()

    def _update(self) -> None:
        theme = resolve(self._mode)
        if theme is not self.theme:
            self.theme = theme
            self.changed.emit(theme)


def scrollbar_css(theme: Theme) -> str:
    """Thin, rounded scroll bars in the theme's colours (for widget style sheets)."""
    return (
        f"QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}"
        f"QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}"
        f"QScrollBar::handle {{ background: {theme.border}; border-radius: 4px;"
        f" min-height: 24px; min-width: 24px; margin: 2px; }}"
        f"QScrollBar::handle:hover {{ background: {theme.muted}; }}"
        f"QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}"
        f"QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}")
