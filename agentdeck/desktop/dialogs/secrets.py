"""The "API keys" page of the settings: secrets named by profiles, kept in the keyring.

Keys never touch SQLite or the log: the engine keeps them in the system keyring under the
environment variable's name (`Engine.store_secrets`), where its one lookup finds them when
the variable is not set in its environment (see "Secrets" in docs/agents.md).
"""
from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.widgets.plaintext import plain_label
from agentdeck.engine.errors import KeyringUnavailable


class SecretsPage(QWidget):
    """One password field per secret name used by any profile."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.form = QFormLayout(self)
        self.fields: dict[str, QLineEdit] = {}
        self.note = plain_label()  # may quote a keyring error
        self.note.setWordWrap(True)
        self.form.addRow(self.note)

    async def load(self) -> None:
        """List the secret names of all profiles and whether each is stored."""
        profiles = await self._ctx.engine.profiles()
        names = sorted({name for p in profiles.values() for name in p.secrets})
        try:
            stored = await self._ctx.engine.stored_secrets(names)
        except KeyringUnavailable as exc:
            self.note.setText(str(exc))
            return
        self.note.setText("Keys are kept in the system keyring, never in agentdeck's "
                          "database or logs. Leave a field empty to keep the stored key."
                          if names else "No profile names a secret.")
        for name in names:
            field = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
            field.setPlaceholderText("stored" if stored[name] else "not set")
            self.fields[name] = field
            self.form.addRow(name, field)

    async def save(self) -> None:
        """Store the keys typed in (empty fields are left alone).

        Raises:
            KeyringUnavailable: The keyring refused to store them.
        """
        values = {name: f.text() for name, f in self.fields.items() if f.text()}
        if values:
            await self._ctx.engine.store_secrets(values)
