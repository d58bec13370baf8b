"""Fixtures of the desktop tests: offscreen Qt, a qasync loop inside pytest-qt, app
sessions on real engines.

The loop fixture follows STYLE.md: ``QEventLoop(qapp, already_running=True)`` so that
``qtbot.waitUntil`` drives both Qt and asyncio; teardown cancels what is left, closes
the loop and clears the running loop so nothing leaks into the next test.
"""
from __future__ import annotations

import asyncio
import os

import pytest
import qasync

from tests.desktop.appkit import run, stop_work

# Before any Qt import: the tests run without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="package", autouse=True)
def gui_thread_gc(qapp):
    """As in the app: cyclic garbage collection only on the GUI thread (see gc_guard)."""
    from agentdeck.desktop.gc_guard import GuiThreadGC
    guard = GuiThreadGC()
    yield guard
    guard.stop()


@pytest.fixture
def qloop(qapp, qtbot):
    """A qasync loop marked as running inside the test's Qt event processing."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=10_000)
    qapp.aboutToQuit.disconnect(loop._after_run_forever)
    # Not loop.stop(): it calls QApplication.exit(), which leaves Qt's "quit now" flag set
    # in this process, and the next test's executor threads then never deliver results.
    loop._QEventLoop__is_running = False
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def open_session(qloop, qtbot):
    """Opens `agentdeck.desktop.app.Session`s on real engines; closes them (and their tasks) after."""
    from agentdeck.desktop.app import Session

    sessions: list[Session] = []

    def opener(home, **options):
        options.setdefault("default_runtime", "local")
        session = run(qtbot, Session.open(home, **options))
        sessions.append(session)
        return session

    yield opener
    for session in sessions:
        if not session.closed:
            run(qtbot, stop_work(session.ctx.engine))
            run(qtbot, session.close())
