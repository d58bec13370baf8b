"""The "API keys" page of the settings: secrets named by profiles, kept in the keyring.

Keys never touch SQLite or the log: they go to the system keyring under the service
``agentdeck`` with the environment variable name as user name, where the engine reads
them when the variable is not set in its environment.
"""
from __future__ import annotations

import asyncio

import keyring
from keyring.errors import KeyringError
from PySide6.QtWidgets import QFormLayout, QLineEdit, QWidget

from desktop.context import AppContext
from desktop.plaintext import plain_label
from engine.errors import AgentdeckError

SERVICE = "agentdeck"


def _stored(names: list[str]) -> dict[str, bool]:
    return {name: keyring.get_password(SERVICE, name) is not None for name in names}


def _store(values: dict[str, str]) -> None:
    for name, value in values.items():
        keyring.set_password(SERVICE, name, value)


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
            stored = await asyncio.to_thread(_stored, names)
        except KeyringError as exc:
            self.note.setText(f"No usable system keyring: {exc}. Set the keys as environment "
                              "variables instead.")
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
            AgentdeckError: The keyring refused to store them.
        """
        values = {name: f.text() for name, f in self.fields.items() if f.text()}
        if not values:
            return
        try:
            await asyncio.to_thread(_store, values)
        except KeyringError as exc:
            raise AgentdeckError(f"could not store the API keys in the keyring: {exc}") from exc
