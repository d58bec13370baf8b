"""The batch dialog: template + glob → N scheduled tasks; malformed batches explain why."""
from __future__ import annotations

import time

from agentdeck.desktop.dialogs.batch import TEMPLATE, TOML, BatchDialog
from agentdeck.engine.models import TaskState
from tests.engine.enginekit import make_repo

FILES = {"README.md": "hi\n", "src/a.py": "a = 1\n", "src/b.py": "b = 1\n",
         "src/c.py": "c = 1\n", "src/notes.txt": "x\n"}


def _open(qtbot, window) -> BatchDialog:
    window.actions_["new_batch"].trigger()
    dialog = window.findChild(BatchDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.settings.agent.count() > 0)
    return dialog


def test_template_and_glob_create_scheduled_tasks(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    window = open_session(tmp_path / "home").window
    dialog = _open(qtbot, window)
    dialog.name.setText("docstrings")
    dialog.repo.set_path(str(repo))
    dialog.tabs.setCurrentIndex(TEMPLATE)
    dialog.template.setPlainText("Add docstrings to {path}")
    dialog.globs.setText("src/*.py")
    assert dialog.start.text() == "tonight 01:00"
    qtbot.waitUntil(lambda: dialog.preview.rowCount() == 3, timeout=10_000)
    assert [dialog.preview.item(r, 0).text() for r in range(3)] == [
        f"Add docstrings to src/{n}.py" for n in "abc"]
    assert dialog.create_button.isEnabled() and dialog.create_button.text() == "Create 3 tasks"
    dialog.create_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10_000)
    tasks = window.model.tasks()
    assert {t.state for t in tasks} == {TaskState.QUEUED}
    assert len({t.batch_id for t in tasks}) == 1 and tasks[0].batch_id
    now = time.time()
    assert all(now < t.not_before <= now + 25 * 3600 for t in tasks)
    assert time.localtime(tasks[0].not_before).tm_hour == 1
    qtbot.waitUntil(lambda: window.filter_bar.batch.findData(tasks[0].batch_id) > 0)
    qtbot.waitUntil(lambda: window.batch_progress.isVisibleTo(window))
    assert "0/3" in window.batch_progress.label.text()


def test_an_empty_batch_dialog_shows_a_hint_not_an_error(qtbot, open_session, tmp_path):
    window = open_session(tmp_path / "home").window
    dialog = _open(qtbot, window)
    dialog.refresh_preview()
    assert dialog.status.text() == "Type one prompt per line: one task each."
    assert "color" not in dialog.status.styleSheet() and not dialog.create_button.isEnabled()
    dialog.tabs.setCurrentIndex(TOML)
    dialog.refresh_preview()
    assert dialog.status.text().startswith("Type or import a batch file")


def test_malformed_batch_shows_the_reason_and_cannot_be_created(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    window = open_session(tmp_path / "home").window
    dialog = _open(qtbot, window)
    dialog.repo.set_path(str(repo))
    dialog.tabs.setCurrentIndex(TEMPLATE)
    dialog.template.setPlainText("Fix {path}")
    dialog.globs.setText("lib/*.rs")
    qtbot.waitUntil(lambda: "matches no file" in dialog.status.text(), timeout=10_000)
    assert not dialog.create_button.isEnabled()
    dialog.tabs.setCurrentIndex(TOML)
    dialog.toml.setPlainText('name = "x"\n\n[[task]]\nprompt = 3\n')
    qtbot.waitUntil(lambda: "line 4" in dialog.status.text(), timeout=10_000)
    assert "prompt of task 1 must be text" in dialog.status.text()
    assert not dialog.create_button.isEnabled() and dialog.preview.rowCount() == 0
    assert window.model.rowCount() == 0


def test_export_then_import_round_trips(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", FILES)
    window = open_session(tmp_path / "home").window
    dialog = _open(qtbot, window)
    dialog.repo.set_path(str(repo))
    dialog.name.setText("two-things")
    dialog.prompts.setPlainText("echo one\n\necho two\n")
    dialog.start.set_text("now")
    qtbot.waitUntil(lambda: dialog.preview.rowCount() == 2, timeout=10_000)
    path = tmp_path / "saved.toml"
    dialog.export_file(str(path))
    qtbot.waitUntil(lambda: dialog.status.text() == f"Saved {path}", timeout=10_000)
    assert 'prompt = "echo one"' in path.read_text()
    dialog.prompts.clear()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Type one prompt"), timeout=10_000)
    dialog.import_file(str(path))
    qtbot.waitUntil(lambda: dialog.tabs.currentIndex() == TOML, timeout=10_000)
    qtbot.waitUntil(lambda: dialog.preview.rowCount() == 2, timeout=10_000)
    assert "two-things" in dialog.status.text()
