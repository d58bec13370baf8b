"""End to end through the real window and a real engine on a real git repo:
new-task dialog → row → running → live log → diff → partial accept / reject."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from agentdeck.desktop.dialogs.new_task import NewTaskDialog
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import git, make_repo

SCRIPT = ("for i in 1 2 3 4 5 6; do echo step $i; sleep 0.15; done; "
          "echo 'x = 2' > src/app.py; echo new > NEW.md")


def _submit_with_dialog(qtbot, window, repo, prompt: str) -> str:
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.repo.set_path(str(repo))
    qtbot.waitUntil(lambda: dialog.repo.status.text().startswith("✓"), timeout=10_000)
    assert "branch main" in dialog.repo.status.text() and "clean" in dialog.repo.status.text()
    dialog.prompt.setPlainText(prompt)
    qtbot.waitUntil(lambda: dialog.settings.agent.count() > 0)
    dialog.settings.agent.setCurrentIndex(dialog.settings.agent.findData("shell"))
    before = window.model.rowCount()
    dialog.start_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == before + 1, timeout=10_000)
    qtbot.waitUntil(lambda: window.findChild(NewTaskDialog) is None)
    return window.current_task_id()


def _task(window, task_id):
    return window.model.task(task_id)


def test_submit_run_stream_review_partial_accept(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    head = git(repo, "rev-parse", "HEAD")
    session = open_session(tmp_path / "home")
    window = session.window
    window.show()
    task_id = _submit_with_dialog(qtbot, window, repo, SCRIPT)
    assert session.ctx.ui_state.recent_repos() == [str(repo)]
    qtbot.waitUntil(lambda: _task(window, task_id).state is TaskState.RUNNING, timeout=15_000)
    # The log streams into the task view while the task runs.
    log_model = window.task_view.log.model
    qtbot.waitUntil(lambda: log_model.rowCount() >= 2, timeout=15_000)
    assert _task(window, task_id).state is TaskState.RUNNING
    qtbot.waitUntil(lambda: _task(window, task_id).review is ReviewState.PENDING, timeout=20_000)
    texts = [log_model.plain_text(row) for row in range(log_model.rowCount())]
    assert [t for t in texts if t.startswith("step")] == [f"step {i}" for i in range(1, 7)]
    # The diff appears in the review tab.
    window.actions_["show_review"].trigger()
    panel = window.review.panel
    qtbot.waitUntil(lambda: len(panel.files) == 2, timeout=10_000)
    assert sorted(f.path for f in panel.files) == ["NEW.md", "src/app.py"]
    title = _task(window, task_id).title
    assert panel.subject.text() == title  # which task's change this is
    # Partial accept: leave NEW.md out.
    tree = panel.tree.files_model
    number = [f.path for f in panel.files].index("NEW.md")
    tree.setData(tree.index_of_file(number), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert panel.excluded_paths() == ["NEW.md"]
    window.actions_["accept"].trigger()
    qtbot.waitUntil(lambda: _task(window, task_id).review is ReviewState.ACCEPTED, timeout=10_000)
    qtbot.waitUntil(lambda: panel.subject.text() == f"{title} (accepted)")
    assert git(repo, "rev-parse", "HEAD~1") == head
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["src/app.py"]
    assert (repo / "src/app.py").read_text() == "x = 2\n"
    assert not (repo / "NEW.md").exists()
    qtbot.waitUntil(lambda: "Accepted" in window.statusBar().currentMessage())


def test_reject_discards_and_leaves_the_repo_alone(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    head = git(repo, "rev-parse", "HEAD")
    session = open_session(tmp_path / "home")
    window = session.window
    window.show()
    task_id = _submit_with_dialog(qtbot, window, repo, "echo changed > README.md")
    qtbot.waitUntil(lambda: _task(window, task_id).review is ReviewState.PENDING, timeout=20_000)
    window.actions_["show_review"].trigger()
    qtbot.waitUntil(lambda: len(window.review.panel.files) == 1, timeout=10_000)
    window.actions_["reject"].trigger()
    qtbot.waitUntil(lambda: _task(window, task_id).review is ReviewState.REJECTED, timeout=10_000)
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "README.md").read_text() == "hello\n"


def test_dialog_shows_engine_errors_inline_and_stays_open(qtbot, open_session, tmp_path):
    session = open_session(tmp_path / "home")
    window = session.window
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    dialog.repo.set_path(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: dialog.repo.status.text() != "", timeout=10_000)
    assert not dialog.repo.status.text().startswith("✓")
    dialog.prompt.setPlainText("echo hi")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.error.text() != "", timeout=10_000)
    assert dialog.isVisible() and dialog.start_button.isEnabled()
    assert window.model.rowCount() == 0
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def test_a_key_in_the_review_panel_accepts(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window = session.window
    window.show()
    qtbot.waitExposed(window)
    task = run(qtbot, session.ctx.engine.submit(repo, "echo x > X.md"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).review is ReviewState.PENDING, timeout=20_000)
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    panel = window.review.panel
    qtbot.waitUntil(lambda: len(panel.files) == 1, timeout=10_000)
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.model.task(task.id).review is ReviewState.ACCEPTED, timeout=10_000)
    assert (repo / "X.md").read_text() == "x\n"


def test_dialog_refuses_what_the_cli_refuses_with_the_same_words(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window = session.window
    window.actions_["new_task"].trigger()
    dialog = window.findChild(NewTaskDialog)
    dialog.repo.set_path(str(repo))
    qtbot.waitUntil(lambda: dialog.repo.status.text().startswith("✓"), timeout=10_000)
    for prompt, timeout, field, words in (
            ("echo a\0b", "", dialog.prompt_error, "the prompt contains a NUL byte"),
            ("echo hi", "inf", dialog.timeout_error, "the timeout must be seconds above zero")):
        dialog.prompt.setPlainText(prompt)
        dialog.settings.timeout.setText(timeout)
        dialog.start_button.click()
        assert words in field.text() and field.isVisible()  # under the field it is about
        assert dialog.isVisible() and dialog.start_button.isEnabled()
    assert window.model.rowCount() == 0
    dialog.settings.timeout.setText("30m")  # the fix: the stale error goes at once
    assert dialog.timeout_error.text() == "" and not dialog.timeout_error.isVisible()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
