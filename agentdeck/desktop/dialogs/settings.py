"""File → Settings: runtime and parallelism, Docker endpoints, agent profiles, API keys,
theme and notifications."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QPlainTextEdit,
    QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.dialogs.fields import ERROR_STYLE, OK_STYLE
from agentdeck.desktop.dialogs.secrets import SecretsPage
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.desktop.widgets.theme import monospace_font
from agentdeck.engine.api import PROFILES_FILE, endpoint_slots, validate_profiles_text
from agentdeck.engine.errors import AgentdeckError, InvalidInput

THEMES = (("Follow the system", "system"), ("Light", "light"), ("Dark", "dark"))
RUNTIMES = (("Automatic (Docker when available)", "auto"), ("Local (embedded)", "local"),
            ("Docker", "docker"))


class SettingsDialog(QDialog):
    """Edits engine settings (through ``engine.update_settings``) and UI preferences.

    Signals:
        message(str): an outcome for the status bar.
        theme_changed(str): "system", "light" or "dark" was picked.
    """

    message = Signal(str)
    theme_changed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.setWindowTitle("Settings")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_page(), "General")
        self.tabs.addTab(self._profiles_page(), "Agent profiles")
        self.secrets = SecretsPage(ctx)
        self.tabs.addTab(self.secrets, "API keys")
        self.error = plain_label()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(720, 560)
        ctx.runner.spawn(self._load())

    def _general_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.runtime = QComboBox()
        for text, value in RUNTIMES:
            self.runtime.addItem(text, value)
        self.max_parallel = QSpinBox(minimum=1, maximum=256)
        self.endpoints = QPlainTextEdit(placeholderText="one per line: [name] url [tasks at once]\n"
                                                        "local default 4\nbuild-box ssh://me@build-box 8")
        self.endpoints.setMaximumHeight(100)
        self.endpoint_slots = plain_label()  # quotes the user's lines back
        self.endpoint_slots.setWordWrap(True)
        self.endpoints.textChanged.connect(self._show_endpoint_slots)
        self.keep_failed = QCheckBox("Keep sandboxes of failed tasks for inspection")
        self.freshen_after_accept = QCheckBox(
            "After an accept, freshen the waiting tasks that still merge cleanly")
        self.theme = QComboBox()
        for text, value in THEMES:
            self.theme.addItem(text, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(self._ctx.ui_state.theme())))
        self.notifications = QCheckBox("Notify when tasks finish, fail or wait for review")
        self.notifications.setChecked(self._ctx.ui_state.notifications())
        form.addRow("Default runtime", self.runtime)
        form.addRow("Tasks in parallel", self.max_parallel)
        form.addRow("Docker endpoints", self.endpoints)
        form.addRow("", self.endpoint_slots)
        form.addRow("", self.keep_failed)
        form.addRow("", self.freshen_after_accept)
        form.addRow("Theme", self.theme)
        form.addRow("", self.notifications)
        return page

    def _show_endpoint_slots(self) -> None:
        """Each endpoint's own limit, which applies beside "Tasks in parallel" (all tasks)."""
        try:
            slots = endpoint_slots(self.endpoints.toPlainText().splitlines())
        except InvalidInput as exc:
            self.endpoint_slots.setText(str(exc))
            self.endpoint_slots.setStyleSheet(ERROR_STYLE)
            return
        self.endpoint_slots.setStyleSheet("")
        self.endpoint_slots.setText(
            "Docker tasks at once: " + ", ".join(f"{n} ({where}) {k}" for n, where, k in slots)
            + "; “Tasks in parallel” caps all tasks together.")

    def _profiles_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel(f"Your <code>{PROFILES_FILE}</code>: <code>[profiles.NAME]</code> tables "
                                "override or extend the built-in profiles."))
        self.profiles = QPlainTextEdit()
        self.profiles.setFont(monospace_font())
        self.profiles.setPlaceholderText('[profiles.my-claude]\nkind = "claude_code"\nsecrets = ["ANTHROPIC_API_KEY"]')
        self.profiles_status = plain_label()  # quotes the user's file back
        self.profiles_status.setWordWrap(True)
        layout.addWidget(self.profiles, 1)
        layout.addWidget(self.profiles_status)
        self._validate_timer = QTimer(self, singleShot=True, interval=300)
        self._validate_timer.timeout.connect(self.validate_profiles)
        self.profiles.textChanged.connect(self._validate_timer.start)
        return page

    async def _load(self) -> None:
        engine = self._ctx.engine
        settings = await engine.get_settings()
        self.runtime.setCurrentIndex(max(0, self.runtime.findData(settings.get("default_runtime", "auto"))))
        self.max_parallel.setValue(int(settings.get("max_parallel", 1)))
        self.endpoints.setPlainText("\n".join(settings.get("docker_endpoints", [])))
        self.keep_failed.setChecked(bool(settings.get("keep_failed_sandboxes", False)))
        self.freshen_after_accept.setChecked(bool(settings.get("freshen_after_accept", False)))
        self.profiles.setPlainText(await engine.read_profiles_text())
        await self.secrets.load()

    def validate_profiles(self) -> bool:
        """Check the profiles text; show the problem (with line) or the profile names."""
        self._validate_timer.stop()
        try:
            found = validate_profiles_text(self.profiles.toPlainText())
        except InvalidInput as exc:
            self.profiles_status.setStyleSheet(ERROR_STYLE)
            self.profiles_status.setText(str(exc))
            return False
        self.profiles_status.setStyleSheet(OK_STYLE)
        names = ", ".join(sorted(found)) or "none (only the built-in profiles)"
        self.profiles_status.setText(f"✓ valid — defines {names}")
        return True

    def save(self) -> None:
        """Validate, store engine settings and profiles, then close."""
        self.error.clear()
        if not self.validate_profiles():
            self.tabs.setCurrentIndex(1)
            self.error.setText("The agent profiles have a problem; nothing was saved.")
            return
        ui = self._ctx.ui_state
        ui.set_notifications(self.notifications.isChecked())
        if self.theme.currentData() != ui.theme():
            ui.set_theme(self.theme.currentData())
            self.theme_changed.emit(self.theme.currentData())
        self.save_button.setEnabled(False)
        self._ctx.runner.spawn(self._save(), on_error=self._failed)

    async def _save(self) -> None:
        engine = self._ctx.engine
        endpoints = [line.strip() for line in self.endpoints.toPlainText().splitlines() if line.strip()]
        await engine.update_settings(
            default_runtime=self.runtime.currentData(), max_parallel=self.max_parallel.value(),
            docker_endpoints=endpoints, keep_failed_sandboxes=self.keep_failed.isChecked(),
            freshen_after_accept=self.freshen_after_accept.isChecked())
        await engine.save_profiles_text(self.profiles.toPlainText())
        await self.secrets.save()
        self.message.emit("Settings saved")
        self.accept()

    def _failed(self, exc: AgentdeckError) -> None:
        self.save_button.setEnabled(True)
        self.error.setText(str(exc))
