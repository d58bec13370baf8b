"""The Storage tab on a real window and engine: the table and totals, and "Clean up"
showing gc's dry run and removing only after the user confirms."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from agentdeck.engine.models import TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo, wait_done


def _rows(table) -> dict[str, list[str]]:
    return {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}


def test_storage_tab_lists_copies_and_cleans_up_after_confirming(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    session = open_session(home)
    engine, window = session.ctx.engine, session.window
    task = run(qtbot, engine.submit(repo, "echo x > x.txt"))
    done = run(qtbot, wait_done(engine, task.id))
    assert done.state == TaskState.SUCCEEDED
    run(qtbot, engine.accept(task.id, branch=True))
    orphan = home / "work" / "left-over"
    orphan.mkdir(parents=True)
    (orphan / "f").write_text("x" * 10000)

    window.tabs.setCurrentWidget(window.storage)  # opening the tab measures
    view = window.storage
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    rows = _rows(view.table)
    assert rows[task.id][4] == "accepted" and rows["left-over"][2] == "(no task)"
    assert "Total:" in view.totals.text() and str(repo.resolve()) in view.totals.text()

    view.clean_button.click()
    qtbot.waitUntil(lambda: view.confirmation is not None and view.confirmation.isVisible())
    box = view.confirmation
    assert "Remove 2 task copies" in box.text()
    assert task.id in box.detailedText() and "left-over" in box.detailedText()
    assert orphan.exists(), "nothing goes before the user confirms"
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.wait(100)
    assert orphan.exists()

    view.clean_button.click()
    qtbot.waitUntil(lambda: view.confirmation is not box and view.confirmation.isVisible())
    view.confirmation.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: view.table.rowCount() == 0, timeout=10_000)
    assert not orphan.exists() and not (home / "work" / task.id).exists()
