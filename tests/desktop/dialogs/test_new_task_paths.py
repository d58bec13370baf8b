"""The New task dialog's Paths field, the task details' Checkout and the retention in
Settings, on a real window and engine."""
from __future__ import annotations

from agentdeck.desktop.dialogs.new_task import NewTaskDialog
from agentdeck.desktop.dialogs.settings import SettingsDialog
from agentdeck.desktop.tasks.task_details import field_values
from tests.desktop.appkit import run, snapshot
from tests.engine.enginekit import make_repo


def _dialog(qtbot, window, repo) -> NewTaskDialog:
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    dialog.repo.set_path(str(repo))
    qtbot.waitUntil(lambda: dialog.repo.status.text().startswith("✓"), timeout=10_000)
    dialog.prompt.setPlainText("true")
    qtbot.waitUntil(lambda: dialog.settings.agent.count() > 0)
    return dialog


def test_the_paths_field_submits_a_sparse_task_and_refuses_a_bad_path(qtbot, open_session,
                                                                       tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window = session.window
    dialog = _dialog(qtbot, window, repo)
    dialog.paths.setText("../elsewhere")
    dialog.start_button.click()
    assert "must be relative" in dialog.error.text() and dialog.isVisible()
    assert run(qtbot, session.ctx.engine.list_tasks()) == []
    dialog.paths.setText("src")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: window.findChild(NewTaskDialog) is None, timeout=10_000)
    [task] = run(qtbot, session.ctx.engine.list_tasks())
    assert task.paths == ("src",)
    assert field_values(task)["paths"] == "src"
    assert field_values(snapshot("t2"))["paths"] == "whole repo"


def test_settings_store_the_retention(qtbot, open_session, tmp_path):
    session = open_session(tmp_path / "home")
    window = session.window
    window.actions_["settings"].trigger()
    dialog = window.findChild(SettingsDialog)
    qtbot.waitUntil(lambda: dialog.retention.value() == 7, timeout=10_000)
    dialog.retention.setValue(2.5)
    dialog.save()
    qtbot.waitUntil(lambda: window.findChild(SettingsDialog) is None or not dialog.isVisible(),
                    timeout=10_000)
    settings = run(qtbot, session.ctx.engine.get_settings())
    assert settings["storage_retention_days"] == 2.5
