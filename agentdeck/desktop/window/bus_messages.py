"""Desktop messages through the freedesktop notification service, for desktops without a tray.

GNOME and others show no tray icons, but a Linux desktop runs a notification daemon on
the session bus (``org.freedesktop.Notifications``). desktop-notifier talks to it over
D-Bus with asyncio, on the app's qasync loop. The first message connects (not the start:
importing the D-Bus library costs start-up time); without a session bus or a daemon one
log line says why and later messages go only to the window's status bar.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from agentdeck.engine.api import resource_path

log = logging.getLogger(__name__)


class BusMessages:
    """Sends messages to the session bus's notification daemon, if there is one."""

    def __init__(self, app_name: str = "agentdeck") -> None:
        self._app_name = app_name
        self._connecting: asyncio.Future[Any | None] | None = None

    async def send(self, title: str, body: str, *, warning: bool = False) -> bool:
        """Show ``title`` / ``body`` (plain text); False when there is no notification service."""
        notifier = await self._notifier()
        if notifier is None:
            return False
        from desktop_notifier import Urgency
        await notifier.send(title, body, urgency=Urgency.Critical if warning else Urgency.Normal)
        return True

    async def _notifier(self) -> Any | None:
        """The connected notifier, or None once connecting failed (shared by concurrent sends)."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> Any | None:
        from desktop_notifier import DesktopNotifier, Icon
        notifier = DesktopNotifier(self._app_name, Icon(path=resource_path("icons") / "app.svg"))
        try:
            await notifier.get_capabilities()  # connects; raises without bus or daemon
        except Exception as exc:  # no bus, no daemon, a refused connection: all mean "none here"
            log.info("desktop notifications only in the window: no notification service on "
                     "the D-Bus session bus (%s)", str(exc) or type(exc).__name__)
            return None
        return notifier
