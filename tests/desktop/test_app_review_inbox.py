"""The review inbox through the real window, a real engine and real git repos, driven by
the keyboard: ``n`` / ``p`` walk every task waiting for review whatever the Tasks filter,
``r`` then Ctrl+Z brings the change back, A acts on what the focused view shows only,
and ``n`` → ``c`` → ``a`` reviews a task with a comment."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from agentdeck.desktop.review.diff.rows import RowKind
from agentdeck.desktop.window.open_dialogs import user_guide_url
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import make_repo


def _waiting(qtbot, session, repo: Path, count: int) -> list[str]:
    """Submit ``count`` tasks that each add a file; return the engine's inbox order."""
    window, engine = session.window, session.ctx.engine
    for n in range(count):
        run(qtbot, engine.submit(repo, f"echo 'line {n}' > file{n}.txt", title=f"change {n}"))
    qtbot.waitUntil(lambda: window.review.inbox.model.rowCount() == count, timeout=30_000)
    return [t.id for t in run(qtbot, engine.review_queue())]


def _open(qtbot, session, home: Path):
    window = session.window
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def _key(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press ``key`` where the focus is (the window's shortcuts answer from any child)."""
    target = window.focusWidget() or window
    qtbot.keyClick(target, key, modifier)


def _reviewing(qtbot, window, task_id: str) -> None:
    """Wait until ``task_id``'s diff is shown with its first file highlighted."""
    panel = window.review.panel
    qtbot.waitUntil(lambda: panel.task_id == task_id and panel.current == 0
                    and 0 in panel._highlights, timeout=10_000)
    assert window.review.inbox.shown_id == task_id


def test_n_and_p_walk_every_waiting_task_whatever_the_filter(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window = _open(qtbot, session, tmp_path / "home")
    order = _waiting(qtbot, session, repo, 3)
    window.filter_bar.show_state(TaskState.QUEUED.value)  # Tasks shows none of them
    assert window.proxy.rowCount() == 0
    assert window.review.inbox.model.ids() == order
    assert window.review.inbox.count.text() == "3 waiting for review"
    qtbot.waitUntil(lambda: "<b>3</b>&nbsp;to review" in window.counters.labels["review_pending"].text())
    assert window.notifier.review_action.text() == "Review 3 waiting…"
    assert "3 to review" in window.notifier.tooltip
    _key(qtbot, window, Qt.Key.Key_N)
    assert window.tabs.currentWidget() is window.review
    _reviewing(qtbot, window, order[0])
    _key(qtbot, window, Qt.Key.Key_N)
    _reviewing(qtbot, window, order[1])
    _key(qtbot, window, Qt.Key.Key_N)
    _key(qtbot, window, Qt.Key.Key_N)  # past the last: back to the first
    _reviewing(qtbot, window, order[0])
    _key(qtbot, window, Qt.Key.Key_P)
    _reviewing(qtbot, window, order[2])
    assert window.filter_bar.values()["state"] == TaskState.QUEUED.value  # left alone


def test_r_then_ctrl_z_brings_the_change_back(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = _open(qtbot, session, tmp_path / "home"), session.ctx.engine
    order = _waiting(qtbot, session, repo, 2)
    assert not window.actions_["undo"].isEnabled()
    _key(qtbot, window, Qt.Key.Key_N)
    _reviewing(qtbot, window, order[0])
    _key(qtbot, window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.review.inbox.model.ids() == order[1:], timeout=10_000)
    assert window.model.task(order[0]).review is ReviewState.REJECTED
    assert "Undo (Ctrl+Z)" in window.statusBar().currentMessage()
    assert window.actions_["undo"].isEnabled()
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.review.inbox.model.ids() == order, timeout=10_000)
    assert run(qtbot, engine.get_task(order[0])).review is ReviewState.PENDING
    assert not window.actions_["undo"].isEnabled()
    # Bulk reject in Tasks, then one Undo for all of them.
    window.actions_["show_list"].trigger()
    window.table.setFocus()
    window.table.selectAll()
    _key(qtbot, window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.review.inbox.model.rowCount() == 0, timeout=10_000)
    assert "Rejected 2 tasks" in window.statusBar().currentMessage()
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.review.inbox.model.ids() == order, timeout=10_000)


def test_a_acts_on_the_focused_view_only(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = _open(qtbot, session, tmp_path / "home"), session.ctx.engine
    order = _waiting(qtbot, session, repo, 2)
    window.open_task(order[1])  # selected in Tasks...
    window.table.setFocus()
    _key(qtbot, window, Qt.Key.Key_N)  # ...while the inbox opens the other one
    _reviewing(qtbot, window, order[0])
    _key(qtbot, window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.model.task(order[0]).review is ReviewState.ACCEPTED,
                    timeout=10_000)
    number = window.model.task(order[0]).title.split()[-1]  # "change N" wrote fileN.txt
    assert (repo / f"file{number}.txt").exists()
    assert run(qtbot, engine.get_task(order[1])).review is ReviewState.PENDING
    # The Wall shows no selection: A and R do nothing there, though Tasks has one.
    window.actions_["show_wall"].trigger()
    assert not window.actions_["accept"].isEnabled()
    assert not window.actions_["reject"].isEnabled()
    _key(qtbot, window, Qt.Key.Key_A)
    _key(qtbot, window, Qt.Key.Key_R)
    qtbot.wait(300)
    assert run(qtbot, engine.get_task(order[1])).review is ReviewState.PENDING
    # Nothing selected in Tasks: nothing to accept or cancel.
    window.actions_["show_list"].trigger()
    window.table.clearSelection()
    window.table.setCurrentIndex(window.proxy.index(-1, -1))
    assert not window.actions_["accept"].isEnabled()
    assert not window.actions_["cancel"].isEnabled()
    assert not window.actions_["comment"].isEnabled()  # comments belong to the Review view


def test_n_c_a_reviews_with_a_comment(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo")
    session = open_session(tmp_path / "home")
    window, engine = _open(qtbot, session, tmp_path / "home"), session.ctx.engine
    order = _waiting(qtbot, session, repo, 1)
    _key(qtbot, window, Qt.Key.Key_N)
    _reviewing(qtbot, window, order[0])
    view = window.review.panel.view
    number = next(i for i, r in enumerate(view.rows_model.rows) if r.new_no == 1
                  and r.kind != RowKind.COMMENT)
    view.setCurrentIndex(view.rows_model.index(number))
    view.setFocus()
    _key(qtbot, window, Qt.Key.Key_C)
    box = window.review.panel.comment_box
    assert box.isVisible() and box.where.text() == "Comment on file0.txt:1"
    qtbot.keyClicks(box.text, "Fine for now.")
    qtbot.keyClick(box.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(run(qtbot, engine.comments(order[0]))) == 1, timeout=10_000)
    view.setFocus()
    _key(qtbot, window, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.model.task(order[0]).review is ReviewState.ACCEPTED,
                    timeout=10_000)
    assert (repo / "file0.txt").read_text() == "line 0\n"
    qtbot.waitUntil(lambda: window.review.inbox.model.rowCount() == 0)
    assert not window.actions_["next_review"].isEnabled()


def test_help_opens_the_user_guide(qtbot, open_session, tmp_path):
    session = open_session(tmp_path / "home", drive_queue=False)
    window = session.window
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.actions_["user_guide"] in help_menu.actions()
    url = user_guide_url()
    assert url is not None and url.isLocalFile()
    guide = Path(url.toLocalFile())
    assert guide.name == "user-guide.md" and guide.is_file()
    assert "# " in guide.read_text(encoding="utf-8")


def test_tasks_editing_one_file_are_marked_in_the_inbox(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\nb\nc\nd\ne\nf\n"})
    session = open_session(tmp_path / "home")
    window, engine = _open(qtbot, session, tmp_path / "home"), session.ctx.engine
    one = run(qtbot, engine.submit(repo, "sed -i 's/^a$/one/' notes.txt"))
    two = run(qtbot, engine.submit(repo, "sed -i 's/^f$/two/' notes.txt"))
    alone = run(qtbot, engine.submit(repo, "echo x > x.txt"))
    model = window.review.inbox.model
    qtbot.waitUntil(lambda: model.rowCount() == 3, timeout=30_000)
    run(qtbot, window.refresh_overlaps())

    def row(task_id: str, role=Qt.ItemDataRole.DisplayRole):
        return model.index(model.row_of(task_id)).data(role)

    assert row(one.id).endswith(" · ⚠ 1") and row(two.id).endswith(" · ⚠ 1")
    assert "⚠" not in row(alone.id)
    tip = row(one.id, Qt.ItemDataRole.ToolTipRole)
    assert f"{two.id}: notes.txt" in tip and one.id in tip
    assert "⚠" not in row(alone.id, Qt.ItemDataRole.ToolTipRole) and "notes.txt" not in row(
        alone.id, Qt.ItemDataRole.ToolTipRole)
