"""Without a tray, messages reach the desktop's notification daemon over D-Bus (a real dunst)."""
from __future__ import annotations

import logging

from PySide6.QtWidgets import QSystemTrayIcon

from agentdeck.desktop.asyncutil import TaskRunner
from agentdeck.desktop.ui_state import UiState
from agentdeck.desktop.window.notify import Notifier
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run, running, snapshot


def _notifier(tmp_path, runner: TaskRunner) -> tuple[Notifier, list[str]]:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: no tray, as on GNOME
    notifier = Notifier(UiState(tmp_path / "ui.ini"), spawn=runner.spawn)
    shown: list[str] = []
    notifier.notified.connect(lambda _title, body: shown.append(body))
    notifier.seed([running("a", title="Fix <b>it</b>"), running("b", title="Port it")])
    return notifier, shown


def test_messages_reach_the_notification_daemon(qtbot, qloop, tmp_path, notification_daemon):
    runner = TaskRunner()
    notifier, shown = _notifier(tmp_path, runner)
    notifier.on_tasks_changed([snapshot("a", title="Fix <b>it</b>", state=TaskState.FAILED)])
    done = snapshot("b", title="Port it", state=TaskState.SUCCEEDED, review=ReviewState.PENDING)
    notifier.on_tasks_changed([done])
    run(qtbot, runner.drain())
    received = notification_daemon.received()
    by_body = {n["body"]: n for n in received}
    assert set(by_body) == {"“Fix ‹b›it‹/b›” failed", "“Port it” is ready to review"}
    assert {(n["appname"], n["summary"]) for n in received} == {("agentdeck", "agentdeck")}
    assert by_body["“Fix ‹b›it‹/b›” failed"]["timeout"] == "0"  # critical: stays up
    assert by_body["“Port it” is ready to review"]["timeout"] != "0"
    assert all(n["icon_path"].endswith("icons/app.svg") for n in received)
    assert shown == ["“Fix <b>it</b>” failed", "“Port it” is ready to review"]


def test_without_a_session_bus_one_log_line_and_the_window_still_shows_them(
        qtbot, qloop, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    runner = TaskRunner()
    failures: list[str] = []
    runner.failed.connect(failures.append)
    notifier, shown = _notifier(tmp_path, runner)
    with caplog.at_level(logging.INFO, logger="agentdeck.desktop.window.bus_messages"):
        notifier.on_tasks_changed([snapshot("a", title="A", state=TaskState.FAILED)])
        notifier.on_tasks_changed([snapshot("b", title="B", state=TaskState.SUCCEEDED)])
        run(qtbot, runner.drain())
    ours = [r for r in caplog.records if r.name == "agentdeck.desktop.window.bus_messages"]
    assert [r.levelno for r in ours] == [logging.INFO]
    assert "no notification service on the D-Bus session bus" in ours[0].getMessage()
    assert shown == ["“A” failed", "“B” finished"] and failures == []
