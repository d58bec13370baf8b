"""The overlap radar and the merge queue through the real window and a real engine: two
tasks editing one file show in the Overlap column with the other task and the file;
approved tasks land from "Accept approved…" in the chosen order, stopping at the one
whose tests fail, with its output shown."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.tasks.qt_task_model import Column
from agentdeck.engine.models import ReviewState
from tests.desktop.appkit import run
from tests.engine.enginekit import git, make_repo


def _waiting(qtbot, window, engine, repo, script):
    task = run(qtbot, engine.submit(repo, script))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).review is ReviewState.PENDING, timeout=20_000)
    return task


def _cell(window, task_id, role=Qt.ItemDataRole.DisplayRole):
    return window.model.index(window.model.row_of(task_id), Column.OVERLAP).data(role)


def test_overlapping_tasks_are_marked_in_the_table(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\nb\nc\nd\ne\nf\n"})
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    window.show()
    one = _waiting(qtbot, window, engine, repo, "sed -i 's/^a$/one/' notes.txt")
    two = _waiting(qtbot, window, engine, repo, "sed -i 's/^f$/two/' notes.txt")
    alone = _waiting(qtbot, window, engine, repo, "echo x > x.txt")
    run(qtbot, window.refresh_overlaps())
    assert _cell(window, one.id) == _cell(window, two.id) == "⚠ 1"
    assert _cell(window, alone.id) == ""
    tip = _cell(window, one.id, Qt.ItemDataRole.ToolTipRole)
    assert two.id in tip and "notes.txt" in tip


def test_accept_approved_lands_in_order_and_stops_at_failing_tests(qtbot, open_session,
                                                                   tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    window.show()
    tasks = [_waiting(qtbot, window, engine, repo, s)
             for s in ("echo b > BROKEN", "echo a > a.txt", "echo c > c.txt")]
    window.tabs.setCurrentWidget(window.split)
    for task in tasks:
        window.open_task(task.id)
        window.actions_["approve"].trigger()
        qtbot.waitUntil(lambda: window.model.task(task.id).approved_at is not None,
                        timeout=10_000)
    window.actions_["land"].trigger()
    dialog = _land_dialog(window)
    qtbot.waitUntil(lambda: dialog.order.count() == 3, timeout=10_000)
    assert dialog.ids() == [t.id for t in tasks]
    dialog.order.setCurrentRow(0)
    _click(dialog, "Down")  # BROKEN second: a lands first
    assert dialog.ids() == [tasks[1].id, tasks[0].id, tasks[2].id]
    dialog.test.setText("! test -e BROKEN || { echo the suite fails; exit 2; }")
    dialog.land_button.click()
    qtbot.waitUntil(lambda: "stopped at" in dialog.output.toPlainText(), timeout=30_000)
    text = dialog.output.toPlainText()
    assert "the suite fails" in text and f"stopped at {tasks[0].id}" in text
    assert dialog.progress.value() == 1
    assert (repo / "a.txt").exists() and not (repo / "BROKEN").exists()
    assert git(repo, "status", "--porcelain") == ""
    qtbot.waitUntil(lambda: dialog.ids() == [tasks[0].id, tasks[2].id], timeout=10_000)


def _land_dialog(window):
    from agentdeck.desktop.dialogs.land import LandDialog
    return window.findChild(LandDialog)


def _click(dialog, text):
    from PySide6.QtWidgets import QPushButton
    next(b for b in dialog.findChildren(QPushButton) if b.text() == text).click()
