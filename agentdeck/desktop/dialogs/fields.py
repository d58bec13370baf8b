"""Form parts shared by the new-task and batch dialogs: repository, start time, settings."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton,
    QSpinBox, QWidget,
)

from agentdeck.desktop.widgets import format as fmt
from agentdeck.desktop.context import AppContext
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.api import parse_when, validate
from agentdeck.engine.errors import AgentdeckError, InvalidInput

_CHECK_DELAY_MS = 250
ERROR_STYLE = "color: #dc2626;"
OK_STYLE = "color: palette(placeholder-text);"


class RepoPicker(QWidget):
    """An editable combo of recent repositories, a Browse button and a live check.

    The path is checked with ``engine.inspect_repo``; the label shows the branch and
    whether the working tree has uncommitted changes, or the engine's error.

    Signals:
        checked(object): the `RepoInfo`, or None when the path is not usable.
    """

    checked = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.info: Any = None
        self.combo = QComboBox(editable=True)
        self.combo.addItems(ctx.ui_state.recent_repos())
        self.combo.lineEdit().setPlaceholderText("/path/to/a/git/repository")
        self.combo.setMinimumContentsLength(36)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.status = plain_label()
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(browse)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addRow(row)
        layout.addRow(self.status)
        self._timer = QTimer(self, singleShot=True, interval=_CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check)
        self.combo.editTextChanged.connect(lambda _text: self._timer.start())
        self._dialog: QFileDialog | None = None
        if self.path():
            self._timer.start()

    def path(self) -> str:
        """The typed path, stripped."""
        return self.combo.currentText().strip()

    def set_path(self, path: str) -> None:
        """Put ``path`` in the box (it gets checked)."""
        self.combo.setEditText(path)

    def _browse(self) -> None:
        # open() + signal, never the static getExistingDirectory (nested event loop).
        self._dialog = QFileDialog(self, "Choose a git repository", self.path())
        self._dialog.setFileMode(QFileDialog.FileMode.Directory)
        self._dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        self._dialog.fileSelected.connect(self.set_path)
        self._dialog.open()

    def check(self) -> None:
        """Ask the engine about the current path now."""
        self._timer.stop()
        path = self.path()
        if not path:
            self._set(None, "Choose a repository", error=True)
            return
        self._ctx.runner.spawn(self._inspect(path), on_error=lambda e: self._failed(path, e))

    async def _inspect(self, path: str) -> None:
        info = await self._ctx.engine.inspect_repo(path)
        if path != self.path():
            return  # typed on meanwhile; a newer check is coming
        branch = f"branch {info.branch}" if info.branch else "detached HEAD"
        dirty = "uncommitted changes" if info.dirty else "clean"
        self._set(info, f"✓ {branch} · {info.head[:10]} · {dirty}", error=False)

    def _failed(self, path: str, exc: AgentdeckError) -> None:
        if path == self.path():
            self._set(None, str(exc), error=True)

    def _set(self, info: Any, text: str, *, error: bool) -> None:
        self.info = info
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else OK_STYLE)
        self.checked.emit(info)


class StartTime(QWidget):
    """When to start: "now", "+2h", "tonight 01:00"... with the resolved time shown."""

    PRESETS = ("now", "+30m", "+2h", "tonight 01:00", "tomorrow 09:00")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox(editable=True)
        self.combo.addItems(self.PRESETS)
        self.hint = plain_label()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.hint, 1)
        self.combo.editTextChanged.connect(self._show_hint)
        self._show_hint()

    def text(self) -> str:
        """What the user typed."""
        return self.combo.currentText().strip()

    def set_text(self, text: str) -> None:
        self.combo.setEditText(text)

    def value(self) -> float | None:
        """Epoch seconds, or None for "now".

        Raises:
            InvalidInput: The text is not a time.
        """
        text = self.text()
        if not text or text.lower() == "now":
            return None
        return parse_when(text)

    def _show_hint(self) -> None:
        try:
            when = self.value()
        except InvalidInput as exc:
            self.hint.setText(str(exc).split(";")[0])
            self.hint.setStyleSheet(ERROR_STYLE)
            return
        self.hint.setStyleSheet(OK_STYLE)
        self.hint.setText("starts right away" if when is None else
                          f"starts {fmt.timestamp(when)} (in {fmt.duration(max(0, when - time.time()))})")


class TaskSettings:
    """Agent profile, runtime, priority and timeout rows, added to a form layout."""

    RUNTIMES = (("Default", None), ("Local (embedded)", "local"), ("Docker", "docker"))

    def __init__(self, ctx: AppContext, form: QFormLayout) -> None:
        self.agent = QComboBox()
        self.runtime = QComboBox()
        for text, value in self.RUNTIMES:
            self.runtime.addItem(text, value)
        self.priority = QSpinBox(minimum=-100, maximum=100)
        self.priority.setToolTip("Higher runs first")
        self.timeout = QLineEdit(placeholderText="profile default, e.g. 30m")
        self.about_agent = plain_label()
        self.about_agent.setWordWrap(True)
        self.about_agent.setEnabled(False)  # drawn muted: a note, not a field
        self._about: dict[str, str] = {}  # profile name -> its description
        self.agent.currentIndexChanged.connect(
            lambda _: self.about_agent.setText(self._about.get(self.agent.currentData(), "")))
        form.addRow("Agent profile", self.agent)
        form.addRow("", self.about_agent)
        form.addRow("Runtime", self.runtime)
        form.addRow("Priority", self.priority)
        form.addRow("Timeout", self.timeout)
        #: Called with the profile names once they are loaded (other fields list them too).
        self.on_profiles: list[Callable[[list[str]], None]] = []
        ctx.runner.spawn(self._load_profiles(ctx))

    async def _load_profiles(self, ctx: AppContext) -> None:
        profiles = await ctx.engine.profiles()
        for name in sorted(profiles):
            profile = profiles[name]
            self._about[name] = profile.description
            self.agent.addItem(f"{name}  ({profile.kind})", name)
        # The engine's own default agent is "shell"; a user's real agents are one click away.
        self.agent.setCurrentIndex(max(0, self.agent.findData("shell")))
        for call in self.on_profiles:
            call(sorted(profiles))

    def values(self) -> dict[str, Any]:
        """``agent``, ``runtime``, ``priority``, ``timeout`` as `Engine.submit` takes them.

        Raises:
            InvalidInput: The timeout breaks `agentdeck.engine.validate.timeout` (the rule of the CLI's
                ``--timeout`` and of batch files).
        """
        return {
            "agent": self.agent.currentData() or "shell",
            "runtime": self.runtime.currentData(),
            "priority": self.priority.value(),
            "timeout": validate.timeout(self.timeout.text().strip() or None),
        }
