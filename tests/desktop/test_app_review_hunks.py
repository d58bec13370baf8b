"""Hunk-level accept through the real window and a real engine: ``j``/``k`` move from hunk
to hunk across files, ``space`` leaves the current hunk out (dimmed, marked, the file's
box partly checked), and ``a`` commits exactly the other hunks."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.review.diff.qt_diff_model import EXCLUDED_MARK
from agentdeck.desktop.review.diff.rows import RowKind
from agentdeck.engine.models import ReviewState
from tests.desktop.appkit import run
from tests.engine.enginekit import git, make_repo

LINES = "".join(f"line {n}\n" for n in range(1, 31))
EDIT = "sed -i -e '2s/.*/two/' -e '15s/.*/fifteen/' -e '29s/.*/end/' big.txt; echo n > new.txt"


def _current_row(view):
    return view.rows_model.rows[view.currentIndex().row()]


def test_j_k_space_then_a_commits_the_included_hunks(qtbot, open_session, tmp_path):
    repo = make_repo(tmp_path / "repo", {"big.txt": LINES})
    home = tmp_path / "home"
    home.mkdir()
    session = open_session(home)
    window, engine = session.window, session.ctx.engine
    window.show()
    qtbot.waitExposed(window)
    task = run(qtbot, engine.submit(repo, EDIT, agent="shell"))
    qtbot.waitUntil(lambda: window.model.task(task.id) is not None
                    and window.model.task(task.id).review is ReviewState.PENDING, timeout=20_000)
    window.open_task(task.id)
    window.actions_["show_review"].trigger()
    panel = window.review.panel
    qtbot.waitUntil(lambda: len(panel.files) == 2, timeout=10_000)
    big = [f.path for f in panel.files].index("big.txt")
    assert panel.tree.files_model.units[big] == 3
    panel.view.setFocus()
    assert (panel.current, panel.current_hunk) == (big, 0)

    qtbot.keyClick(panel.view, Qt.Key.Key_J)
    row = _current_row(panel.view)
    assert (panel.current_hunk, row.kind, row.hunk) == (1, RowKind.HUNK, 1)
    assert row.new_text.startswith("@@ -12,7 +12,7 @@")
    qtbot.keyClick(panel.view, Qt.Key.Key_Space)
    assert panel.excluded_specs() == ["big.txt#2"]
    header = panel.view.rows_model.index(panel.view.currentIndex().row())
    assert header.data().startswith(EXCLUDED_MARK)
    assert all(panel.view.rows_model.is_excluded(r) == (r.hunk == 1)
               for r in panel.view.rows_model.rows)
    tree = panel.tree.files_model
    assert tree.index_of_file(big).data(Qt.ItemDataRole.CheckStateRole) == \
        Qt.CheckState.PartiallyChecked
    assert panel.accept_button.text() == "Accept, 1 hunk left out"

    qtbot.keyClick(panel.view, Qt.Key.Key_J)
    qtbot.keyClick(panel.view, Qt.Key.Key_J)  # past the last hunk: the next file
    assert panel.files[panel.current].path == "new.txt"
    qtbot.keyClick(panel.view, Qt.Key.Key_K)  # back: the last hunk of big.txt
    assert (panel.current, panel.current_hunk) == (big, 2)
    assert panel.view.rows_model.is_excluded(_current_row(panel.view)) is False

    qtbot.keyClick(panel.view, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: window.model.task(task.id).review is ReviewState.ACCEPTED,
                    timeout=20_000)
    assert (repo / "big.txt").read_text() == \
        LINES.replace("line 2\n", "two\n").replace("line 29\n", "end\n")
    assert (repo / "new.txt").read_text() == "n\n"
    assert git(repo, "rev-list", "--count", "HEAD") == "2"  # one commit
