"""Entry point of the desktop app: one Qt application, one qasync asyncio loop.

Start order: QApplication → qasync loop → `Engine.open` → bridge → window. On quit the
coroutines the UI started are cancelled on ``aboutToQuit`` and the engine is closed
before the loop ends (running agents keep running; the next start re-attaches).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Awaitable, Callable

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from agentdeck import __version__
from agentdeck.desktop import self_test
from agentdeck.desktop.startup import FirstFrame, StartOptions, parse_options
from agentdeck.desktop.widgets import icons
from agentdeck.desktop.asyncutil import TaskRunner
from agentdeck.desktop.bridge import Bridge
from agentdeck.desktop.context import AppContext
from agentdeck.desktop.dialogs.crash import install_excepthook
from agentdeck.desktop.gc_guard import GuiThreadGC, settle_startup
from agentdeck.desktop.window.main_window import MainWindow
from agentdeck.desktop.widgets.plaintext import plain_box
from agentdeck.desktop.ui_state import UiState
from agentdeck.desktop.widgets.theme import ThemeWatcher, palette_for
from agentdeck.engine.api import Engine, data_dir, start_log_file
from agentdeck.engine.errors import AgentdeckError

log = logging.getLogger("agentdeck.desktop")
UI_STATE_FILE = "ui.ini"
#: When start-up's objects are frozen out of full collections (`settle_startup`).
SETTLE_AFTER_MS = 1000


class Session:
    """An open engine plus the window showing it."""

    def __init__(self, engine: Engine, ui_state: UiState) -> None:
        self.runner = TaskRunner()
        self.bridge = Bridge(engine.bus)
        self.ctx = AppContext(engine, self.bridge, self.runner, ui_state)
        self.closed = False
        self.theme = ThemeWatcher(ui_state.theme())
        # The palette first: the window's icons are tinted for it once, not twice.
        QApplication.instance().setPalette(palette_for(self.theme.theme))
        self.window = MainWindow(self.ctx, self.theme.theme)
        self.theme.changed.connect(self.apply_theme)
        self.window.theme_mode_changed.connect(self.theme.set_mode)
        self.apply_theme(self.theme.theme)

    @classmethod
    async def open(cls, home: Path, **engine_options) -> "Session":
        """Open the engine in ``home`` and build (but not show) the window."""
        engine = await Engine.open(home, **engine_options)
        session = cls(engine, UiState(home / UI_STATE_FILE))
        await session.window.load()
        # Not before the first frame: the collection itself takes 30–45 ms.
        QTimer.singleShot(SETTLE_AFTER_MS, settle_startup)
        return session

    def apply_theme(self, theme) -> None:
        """Use ``theme`` everywhere (app palette, hand-painted views, tinted icons: those
        are cached by colour, so a theme seen before costs no rendering)."""
        QApplication.instance().setPalette(palette_for(theme))
        self.window.set_theme(theme)

    async def close(self) -> None:
        """Close the window, stop UI coroutines, then close the engine."""
        if self.closed:
            return
        self.closed = True
        self.window.close()
        self.runner.cancel_all()
        await self.runner.drain()
        self.bridge.close()
        await self.ctx.engine.close()
        self.window.deleteLater()  # its timers and views go with it


async def run(app: QApplication, home: Path, options: StartOptions = StartOptions()) -> int:
    """Open everything, show the window, wait for quit, close the engine.

    SIGTERM (a logout, `kill`) quits like closing the window, even while opening.
    With ``options.demo``, an empty data dir gets the sample repo and the demo batch.
    """
    loop = asyncio.get_running_loop()
    quitting = loop.create_future()

    def finish() -> None:
        if not quitting.done():
            quitting.set_result(None)

    loop.add_signal_handler(signal.SIGTERM, finish)
    try:
        session = await Session.open(home)
        if options.first_frame:
            _announce_first_frame(session.window, finish)
        await _show(app, session, options.demo, finish, quitting)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    return 0


def _announce_first_frame(window: MainWindow, finish: Callable[[], None]) -> None:
    """Print ``first frame`` when ``window`` first paints, then quit."""
    def painted() -> None:
        print("first frame", flush=True)
        finish()
    FirstFrame(window).painted.connect(painted)


async def _show(app: QApplication, session: Session, demo: bool,
                finish: Callable[[], None], quitting: asyncio.Future) -> None:
    """Show the session's window until ``quitting``; then close the session."""
    try:
        if demo and await session.ctx.engine.seed_demo():
            session.window.actions_["show_wall"].trigger()  # the demo's agents, working
        app.aboutToQuit.connect(session.runner.cancel_all)
        app.aboutToQuit.connect(finish)
        session.window.closed.connect(finish)
        session.window.show()
        try:
            await quitting
        finally:
            app.aboutToQuit.disconnect(finish)
            app.aboutToQuit.disconnect(session.runner.cancel_all)
    finally:
        await session.close()


def _start_log_file() -> Path | None:
    """The data dir's log file, now written; None when there is none."""
    try:
        return start_log_file(data_dir())
    except AgentdeckError:
        return None  # run() cannot open the data dir either, and says why


def main(argv: list[str] | None = None, *, demo: bool = False, strict: bool = False) -> int:
    """Start the desktop app (``agentdeck-gui``; ``agentdeck --demo`` seeds the demo).

    ``argv`` is the whole command line (default `sys.argv`): our options (see
    `startup.parse_options`) and, unless ``strict``, Qt's.
    """
    options, qt_argv = parse_options(sys.argv if argv is None else argv, __version__, strict)
    options = replace(options, demo=options.demo or demo)
    level = logging.WARNING if options.self_test else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication(qt_argv)
    app.setApplicationName("agentdeck")
    app.setOrganizationName("agentdeck")
    app.setWindowIcon(icons.icon("app"))
    app.setQuitOnLastWindowClosed(False)  # quit after the engine closed, not before
    install_excepthook(_start_log_file())
    GuiThreadGC(parent=app)  # owned by the app: collects for as long as it runs
    if options.self_test:
        return _self_test_main(app, options.data_dir)
    return _run_loop(app, run(app, options.data_dir or data_dir(), options))


def _run_loop(app: QApplication, work: Awaitable[int]) -> int:
    """Run ``work`` on a qasync loop over ``app``; an `AgentdeckError` is shown, exit 1."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        main_task = loop.create_task(work)
        try:
            loop.run_until_complete(main_task)
        except RuntimeError:
            if main_task.done():
                raise
            # app.quit() (logout, a signal) ended Qt's loop first: resume to close the engine.
            loop.run_until_complete(main_task)
        except AgentdeckError as exc:  # e.g. the data dir cannot be opened
            log.error("cannot start: %s", exc)
            # The asyncio loop no longer runs here, so a modal box is safe.
            plain_box(QMessageBox.Icon.Critical, "agentdeck cannot start", str(exc)).exec()
            return 1
        return main_task.result()


def _self_test_main(app: QApplication, home: Path | None) -> int:
    """Run the self-test (in a temporary data dir unless ``home``); one line says how it went."""
    with tempfile.TemporaryDirectory(prefix="agentdeck-self-test-",
                                     ignore_cleanup_errors=True) as scratch:
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            try:
                said = loop.run_until_complete(
                    _self_test(home or Path(scratch, "data"), Path(scratch, "sample-repo")))
            except Exception as exc:  # noqa: BLE001 (any failure is the test's result)
                if not isinstance(exc, AgentdeckError):
                    log.error("self-test: unexpected error", exc_info=exc)
                print(f"agentdeck self-test failed: {exc}", file=sys.stderr, flush=True)
                return 1
    print(f"agentdeck self-test passed: {said}", flush=True)
    return 0


async def _self_test(home: Path, repo_dir: Path) -> str:
    session = await Session.open(home, default_runtime="local")
    try:
        session.window.show()
        return await self_test.exercise(session.window, repo_dir)
    finally:
        await session.close()


if __name__ == "__main__":
    sys.exit(main())
