"""The app's run(): open engine + window, and on the window closing, stop and close the
engine (its queue lease is released, so the next start can drive the queue at once)."""
from __future__ import annotations

import asyncio

from PySide6.QtCore import QSettings

from agentdeck.desktop.app import run as run_app
from agentdeck.desktop.window.main_window import MainWindow
from agentdeck.engine.api import Engine
from tests.desktop.appkit import run


def _saved_geometry(home):
    return QSettings(str(home / "ui.ini"), QSettings.Format.IniFormat).value("window/geometry")


def _window(qapp) -> MainWindow | None:
    found = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return found[0] if found else None


def test_closing_the_window_closes_the_engine(qtbot, qloop, qapp, tmp_path):
    home = tmp_path / "home"
    qapp.setQuitOnLastWindowClosed(False)  # as main() does: quit only after the engine
    try:
        app_task = asyncio.ensure_future(run_app(qapp, home))
        qtbot.waitUntil(lambda: _window(qapp) is not None, timeout=20_000)
        window = _window(qapp)
        assert _saved_geometry(home) is None
        window.close()
        qtbot.waitUntil(app_task.done, timeout=20_000)
        assert app_task.result() == 0
        assert _saved_geometry(home) is not None  # the layout was saved on closing
        # The lease is free: a new engine that insists on driving the queue gets it.
        engine = run(qtbot, Engine.open(home, require_lease=True, default_runtime="local"))
        assert engine.drives
        run(qtbot, engine.close())
    finally:
        qapp.setQuitOnLastWindowClosed(True)
