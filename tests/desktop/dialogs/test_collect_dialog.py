"""Task → Collect again: the dialog asks for the limits and the engine's answer reaches
the status bar (a task that keeps no container says so)."""
from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from agentdeck.desktop.dialogs.collect import CollectDialog
from agentdeck.engine.models import TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def test_the_dialog_hands_on_the_limits(qtbot):
    dialog = CollectDialog(2)
    qtbot.addWidget(dialog)
    dialog.files.setValue(30_000)
    dialog.mib.setValue(2048)
    with qtbot.waitSignal(dialog.collect_requested) as sent:
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert sent.args == [30_000, 2048 << 20]


def test_collect_again_on_a_task_without_a_kept_container_says_why(qtbot, open_session,
                                                                    tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = session.window, session.ctx.engine
    task = run(qtbot, engine.submit(repo, "true", title="quick"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).state is TaskState.SUCCEEDED, timeout=15_000)
    window.open_task(task.id)
    window.actions_["collect"].trigger()
    dialog = window.findChild(CollectDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "keeps no container to collect from"
                    in window.statusBar().currentMessage(), timeout=10_000)
