"""The status bar's counters are filters: a click shows those tasks in the list (or, for
"to review", the review inbox)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.engine.models import TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def test_clicking_a_counter_shows_its_tasks(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home", drive_queue=False)
    window = session.window
    window.show()
    run(qtbot, session.ctx.engine.submit(repo, "echo hi", title="waits in the queue"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)
    window.actions_["show_wall"].trigger()
    qtbot.mouseClick(window.counters.labels["review_pending"], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.review  # the review inbox
    assert window.review.inbox.model.rowCount() == 0  # the queued task does not wait
    assert window.review.inbox.count.text() == "Nothing waits for review"
    qtbot.mouseClick(window.counters.labels["queued"], Qt.MouseButton.LeftButton)
    assert window.filter_bar.values()["state"] == TaskState.QUEUED.value
    assert window.proxy.rowCount() == 1
    assert session.ctx.ui_state.filters()["state"] == TaskState.QUEUED.value
