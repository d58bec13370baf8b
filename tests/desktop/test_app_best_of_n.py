"""Best-of-N in the real window on a real engine: the review of one attempt shows its
siblings side by side, a click reviews another, and accepting one rejects the rest and
frees their working copies."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from agentdeck.desktop.dialogs.new_task import NewTaskDialog
from agentdeck.desktop.widgets.qt_summary_model import SummaryColumn
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def _cells(model, column: SummaryColumn) -> list[str]:
    return [model.index(row, column).data() for row in range(model.rowCount())]


def test_the_compare_panel_shows_the_attempts_and_accepting_one_rejects_the_rest(
        qtbot, qtmodeltester, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    window.show()
    qtbot.waitExposed(window)
    tasks = run(qtbot, engine.submit_group(repo, 'printf "x\\ny\\n" > pick.txt', attempts=3,
                                           title="pick"))
    ids = [t.id for t in tasks]
    qtbot.waitUntil(lambda: all(window.model.task(i) is not None and window.model.task(i)
                                .review is ReviewState.PENDING for i in ids), timeout=30_000)
    window.review_task(ids[0])
    compare = window.review.compare
    qtbot.waitUntil(lambda: compare.isVisible() and compare.model.rowCount() == 3
                    and _cells(compare.model, SummaryColumn.REVIEW) == ["pending"] * 3,
                    timeout=10_000)
    qtmodeltester.check(compare.model)
    assert _cells(compare.model, SummaryColumn.TITLE) == ["pick [1/3]", "pick [2/3]",
                                                          "pick [3/3]"]
    assert _cells(compare.model, SummaryColumn.STATE) == ["succeeded"] * 3
    assert _cells(compare.model, SummaryColumn.LINES) == ["+2 −0"] * 3
    assert _cells(compare.model, SummaryColumn.FILES) == ["1"] * 3
    assert compare.table.selectionModel().selectedRows()[0].row() == 0

    rect = compare.table.visualRect(compare.model.index(2, SummaryColumn.TITLE))
    qtbot.mouseClick(compare.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.review.task_id == ids[2], timeout=10_000)
    assert window.tabs.currentWidget() is window.review
    assert compare.table.selectionModel().selectedRows()[0].row() == 2

    copies = [Path(t.workdir) for t in run(qtbot, engine.list_tasks(group_id=tasks[0].group_id))]
    window.actions_["accept"].trigger()
    qtbot.waitUntil(lambda: _cells(compare.model, SummaryColumn.REVIEW)
                    == ["rejected", "rejected", "accepted"], timeout=20_000)
    assert "accepted, the others rejected" in compare.heading.text()
    assert [window.model.task(i).review for i in ids] == [
        ReviewState.REJECTED, ReviewState.REJECTED, ReviewState.ACCEPTED]
    assert not any(copy.exists() for copy in copies)
    assert (repo / "pick.txt").read_text() == "x\ny\n"


def test_a_task_of_no_group_shows_no_compare_panel(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    window.show()
    task = run(qtbot, engine.submit(repo, "echo a > a.txt"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).state is TaskState.SUCCEEDED, timeout=30_000)
    window.review_task(task.id)
    qtbot.waitUntil(lambda: window.review.task_id == task.id, timeout=10_000)
    assert not window.review.compare.isVisible()


def test_the_new_task_dialog_starts_a_group_of_attempts_with_two_agents(
        qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        '[profiles.other]\nkind = "shell"\ncommand = ["sh", "-c", "{prompt}"]\n')
    session = open_session(home)
    window, engine = session.window, session.ctx.engine
    window.show()
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    dialog.repo.set_path(str(repo))
    qtbot.waitUntil(lambda: dialog.repo.status.text().startswith("✓"), timeout=10_000)
    dialog.prompt.setPlainText("echo hi > hi.txt")
    others = dialog.attempts.others
    qtbot.waitUntil(lambda: others.count() > 0, timeout=10_000)
    dialog.settings.agent.setCurrentIndex(dialog.settings.agent.findData("shell"))
    dialog.attempts.attempts.setValue(2)
    assert dialog.start_button.text() == "Start 2 attempts"
    others.findItems("other", Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Checked)
    assert dialog.start_button.text() == "Start 4 attempts"
    dialog.start_button.click()
    qtbot.waitUntil(lambda: window.findChild(NewTaskDialog) is None, timeout=10_000)

    tasks = run(qtbot, engine.list_tasks(order="created_at, rowid"))
    assert [t.agent for t in tasks] == ["shell", "shell", "other", "other"]
    assert len({t.group_id for t in tasks}) == 1 and tasks[0].group_id
    assert all(window.model.task(t.id) is not None for t in tasks)
