"""Comments back to the agent through the real window and a real engine: ``c`` on a diff
line opens the comment box, the comment shows in the diff, Request changes sends it as
the task's follow-up, and the next review offers "Since last review" (the interdiff)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.review.diff.rows import RowKind
from agentdeck.engine.models import ReviewState
from tests.desktop.appkit import run
from tests.engine.enginekit import RECORDER, make_repo


def _select_new_line(view, line: int) -> None:
    rows = view.rows_model.rows
    number = next(i for i, r in enumerate(rows) if r.new_no == line and r.kind != RowKind.COMMENT)
    view.setCurrentIndex(view.rows_model.index(number))


def test_c_comments_a_line_and_request_changes_sends_it(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(RECORDER)
    session = open_session(home)
    window, engine = session.window, session.ctx.engine
    window.show()
    qtbot.waitExposed(window)
    task = run(qtbot, engine.submit(repo, "write notes", agent="recorder"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).review is ReviewState.PENDING, timeout=20_000)
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    panel = window.review.panel
    qtbot.waitUntil(lambda: len(panel.files) == 2, timeout=10_000)
    assert not panel.since_button.isVisible()  # no earlier review yet
    panel.tree.select_file([f.path for f in panel.files].index("notes.txt"))
    _select_new_line(panel.view, 1)
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_C)
    box = panel.comment_box
    assert box.isVisible() and box.where.text() == "Comment on notes.txt:1"
    qtbot.keyClicks(box.text, "Number the attempts.")
    qtbot.keyClick(box.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not box.isVisible()
    qtbot.waitUntil(lambda: any(r.kind == RowKind.COMMENT for r in panel.view.rows_model.rows),
                    timeout=10_000)
    shown = [r.text for r in panel.view.rows_model.rows if r.kind == RowKind.COMMENT]
    assert shown == ["💬 Number the attempts."]
    assert panel.request_button.text() == "Request changes (1)"

    panel.request_button.click()
    qtbot.waitUntil(lambda: window.model.task(task.id).attempt == 2, timeout=10_000)
    follow_up = window.model.task(task.id).follow_up
    assert "notes.txt:1\n#     > attempt 1\n# Number the attempts." in follow_up
    qtbot.waitUntil(lambda: window.model.task(task.id).review is ReviewState.PENDING,
                    timeout=20_000)
    qtbot.waitUntil(lambda: panel.since_button.isVisible(), timeout=10_000)
    assert panel.request_button.text() == "Request changes"  # the comment went out
    panel.since_button.click()
    # Since the last review: received.txt now holds the follow-up, notes.txt one line more.
    qtbot.waitUntil(lambda: "-write notes" in "".join(f.text for f in panel.files),
                    timeout=10_000)
    notes = next(f for f in panel.files if f.path == "notes.txt")
    assert (notes.added, notes.removed, notes.status.value) == (1, 0, "modified")
    panel.whole_button.click()
    qtbot.waitUntil(lambda: any(f.status.value == "added" for f in panel.files), timeout=10_000)
