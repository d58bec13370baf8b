"""Bulk actions and the wall against a real engine: running tasks get tiles with their
live tail; cancel (Del) on a multi-selection stops them and the tiles go away; retry."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from agentdeck.engine.models import TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def _states(window, ids):
    return {window.model.task(i).state for i in ids}


def test_wall_tiles_bulk_cancel_and_retry(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home", max_parallel=4)
    window, engine = session.window, session.ctx.engine
    window.resize(1200, 800)
    window.show()
    window.actions_["show_wall"].trigger()
    ids = [run(qtbot, engine.submit(repo, f"echo started {n}; sleep 60", title=f"long {n}")).id
           for n in range(3)]
    qtbot.waitUntil(lambda: sorted(window.wall.tiles()) == sorted(ids), timeout=15_000)
    tiles = window.wall.tiles()
    qtbot.waitUntil(lambda: [tiles[i].lines[-1:] for i in ids]
                    == [[f"started {n}"] for n in range(3)], timeout=15_000)
    # Clicking a tile opens the task in the Tasks tab.
    qtbot.mouseClick(tiles[ids[1]], Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.split
    assert window.current_task_id() == ids[1]
    # Select all rows and press Del: every task is cancelled, the wall empties.
    window.table.setFocus()
    window.table.selectAll()
    assert window.actions_["cancel"].shortcut() == QKeySequence("Del")
    window.actions_["cancel"].trigger()
    qtbot.waitUntil(lambda: _states(window, ids) == {TaskState.CANCELLED}, timeout=20_000)
    qtbot.waitUntil(lambda: window.wall.tiles() == {})
    qtbot.waitUntil(lambda: "Cancelled 3 tasks" in window.statusBar().currentMessage(), timeout=10_000)
    # Retry one: it runs again as attempt 2.
    window.open_task(ids[0])
    window.table.selectRow(window.table.currentIndex().row())
    window.actions_["retry"].trigger()
    qtbot.waitUntil(lambda: window.model.task(ids[0]).attempt == 2, timeout=10_000)
    qtbot.waitUntil(lambda: window.model.task(ids[0]).state is TaskState.RUNNING, timeout=15_000)
    assert list(window.wall.tiles()) == [ids[0]]
    # The details follow the live snapshot (also across clock ticks) and list attempt 1.
    labels = window.task_view.details.labels
    qtbot.waitUntil(lambda: labels["history"].text().startswith("#1 cancelled"), timeout=10_000)
    qtbot.wait(1100)
    assert labels["state"].text() == "running" and labels["attempt"].text() == "2"


def test_errors_from_bulk_actions_reach_the_status_bar(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    task = run(qtbot, engine.submit(repo, "true", title="quick"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).state is TaskState.SUCCEEDED, timeout=15_000)
    window.open_task(task.id)
    assert not window.actions_["cancel"].isEnabled()  # Del does nothing to a finished task
    window.task_actions.cancel([task.id])
    qtbot.waitUntil(lambda: "nothing to cancel" in window.statusBar().currentMessage(), timeout=10_000)
