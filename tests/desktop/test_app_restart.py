"""Close the window and the engine, reopen on the same data dir: same history, logs,
pending reviews and UI state."""
from __future__ import annotations

from agentdeck.desktop.tasks.qt_task_model import Column
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def test_reopen_shows_the_same_history_logs_and_reviews(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    first = open_session(home)
    engine = first.ctx.engine
    good = run(qtbot, engine.submit(repo, "echo building; echo done > OUT.txt", title="makes a file"))
    bad = run(qtbot, engine.submit(repo, "for i in 1 2 3; do echo try $i; done; exit 3", title="fails"))
    window = first.window
    qtbot.waitUntil(lambda: window.model.task(good.id) is not None
                    and window.model.task(good.id).review is ReviewState.PENDING, timeout=20_000)
    qtbot.waitUntil(lambda: window.model.task(bad.id).state is TaskState.FAILED, timeout=20_000)
    window.filter_bar.set_values({"search": "fails"})
    window.table.setColumnWidth(Column.AGENT, 133)
    run(qtbot, first.close())

    second = open_session(home)
    window = second.window
    assert {t.id: t.state for t in window.model.tasks()} == {
        good.id: TaskState.SUCCEEDED, bad.id: TaskState.FAILED}
    assert window.model.task(good.id).review is ReviewState.PENDING
    assert window.model.task(bad.id).exit_code == 3
    # UI state came back: the filter (so only the failed task is listed) and a column width.
    assert window.filter_bar.search.text() == "fails"
    assert window.proxy.rowCount() == 1
    assert window.table.columnWidth(Column.AGENT) == 133
    qtbot.waitUntil(lambda: window.counters.labels["review_pending"].text().count("<b>1</b>") == 1)
    assert "<b>1</b>" in window.counters.labels["failed"].text()
    # The stored log of the failed task is shown when it is opened.
    window.open_task(bad.id)
    log = window.task_view.log.model
    qtbot.waitUntil(lambda: log.rowCount() > 0, timeout=10_000)
    texts = [log.plain_text(row) for row in range(log.rowCount())]
    assert [t for t in texts if t.startswith("try")] == ["try 1", "try 2", "try 3"]
    # And the pending review still has its diff.
    window.open_task(good.id)
    window.actions_["show_review"].trigger()
    qtbot.waitUntil(lambda: [f.path for f in window.review.panel.files] == ["OUT.txt"], timeout=10_000)


def test_a_second_window_says_another_process_runs_the_queue(qtbot, open_session, tmp_path):
    from agentdeck.engine.api import Engine

    home = tmp_path / "home"
    driver = run(qtbot, Engine.open(home, default_runtime="local"))
    try:
        assert driver.drives
        window = open_session(home).window
        assert not window.ctx.engine.drives
        assert "Another agentdeck process runs the queue" in window.statusBar().currentMessage()
    finally:
        run(qtbot, driver.close())
