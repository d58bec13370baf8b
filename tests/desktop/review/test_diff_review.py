"""The review panel as a user drives it: files, checkboxes, views, highlight, buttons."""
from __future__ import annotations

import os

import pytest
from pygments.token import Keyword
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QLabel

from agentdeck.desktop.review.diff import DiffReview
from agentdeck.desktop.review.diff.qt_file_tree_model import STATUS_ROLE
from agentdeck.desktop.review.diff.rows import RowKind
from agentdeck.desktop.widgets.theme import DARK, LIGHT, ThemeWatcher, palette_for, resolve

PY = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))


@pytest.fixture
def patch(git_diff) -> str:
    return git_diff(
        {"src/app/core.py": PY, "src/app/util.py": PY, "docs/old.md": "old\n",
         ".env": "A=1\n"},
        {"src/app/core.py": PY.replace("return x + 2", "return x - 2"),
         "src/app/util.py": None, "docs/new.md": "# new\n", "docs/old.md": None,
         ".env": "A=2\n",
         "logo.png": bytes(range(256))})


@pytest.fixture
def review(qtbot, patch) -> DiffReview:
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    with qtbot.waitSignal(widget.file_highlighted, timeout=10_000):
        widget.set_patch("task-1", patch, {".env": "secrets file"})
    return widget


def _file_row(review: DiffReview, path: str) -> QModelIndex:
    model = review.tree.files_model
    return model.index_of_file([f.path for f in review.files].index(path))


def test_files_tree_shows_status_and_unsafe_files_unchecked(review, qtmodeltester) -> None:
    model = review.tree.files_model
    qtmodeltester.check(model)
    statuses = {fp.path: _file_row(review, fp.path).data(STATUS_ROLE)
                for fp in review.files}
    assert statuses == {".env": "modified", "docs/new.md": "added", "docs/old.md": "deleted",
                        "logo.png": "added", "src/app/core.py": "modified",
                        "src/app/util.py": "deleted"}
    env = _file_row(review, ".env")
    assert env.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert "secrets file" in env.data(Qt.ItemDataRole.ToolTipRole)
    folder = model.parent(_file_row(review, "src/app/core.py"))
    assert folder.data() == "src/app"  # single-child folder chain merged
    assert review.title.text() == "6 files changed"


def test_unchecking_a_file_adds_it_to_the_accept_exclusions(review, qtbot) -> None:
    core = _file_row(review, "src/app/core.py")
    assert review.tree.files_model.setData(core, Qt.CheckState.Unchecked.value,
                                           Qt.ItemDataRole.CheckStateRole)
    with qtbot.waitSignal(review.accept_requested) as accepted:
        review.accept_button.click()
    assert accepted.args == ["task-1", [".env", "src/app/core.py"]]
    folder = review.tree.files_model.parent(core)
    assert folder.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked


def test_a_folder_checkbox_sets_all_its_files(review, qtbot) -> None:
    model = review.tree.files_model
    folder = model.parent(_file_row(review, "src/app/core.py"))
    model.setData(folder, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert review.excluded_paths() == [".env", "src/app/core.py", "src/app/util.py"]
    model.setData(folder, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert review.excluded_paths() == [".env"]


def test_keys_a_and_r_accept_and_reject(review, qtbot) -> None:
    review.view.setFocus()
    with qtbot.waitSignal(review.accept_requested) as accepted:
        qtbot.keyClick(review.view, Qt.Key.Key_A)
    assert accepted.args == ["task-1", [".env"]]
    with qtbot.waitSignal(review.reject_requested) as rejected:
        qtbot.keyClick(review.view, Qt.Key.Key_R)
    assert rejected.args == ["task-1"]


def test_accept_is_disabled_when_every_file_is_excluded(review) -> None:
    model = review.tree.files_model
    for row in range(model.rowCount()):
        model.setData(model.index(row, 0), Qt.CheckState.Unchecked.value,
                      Qt.ItemDataRole.CheckStateRole)
    assert not review.accept_button.isEnabled()


def test_tokens_arrive_for_the_file_shown(review, qtbot) -> None:
    shown = review.files[review.current]
    assert shown.path == ".env"  # the tree's first file is selected at once
    index = [f.path for f in review.files].index("src/app/core.py")
    with qtbot.waitSignal(review.file_highlighted, timeout=10_000) as got:
        review.tree.select_file(index)
    assert got.args == [index]
    highlight = review.view.rows_model.highlight
    assert highlight is not None
    first_row = next(r for r in review.view.rows_model.rows if r.kind == RowKind.REMOVED)
    assert (4, 10, Keyword) in highlight.old_tokens[first_row.old_no]  # "return"
    assert [m for m in highlight.old_marks[first_row.old_no]]  # "+" became "-"


def test_binary_file_says_so(review) -> None:
    review.tree.select_file([f.path for f in review.files].index("logo.png"))
    assert [r.text for r in review.view.rows_model.rows] == ["binary file added (256 bytes)"]


def test_side_by_side_toggle_and_rows_model(review, qtmodeltester) -> None:
    review.tree.select_file([f.path for f in review.files].index("src/app/core.py"))
    qtmodeltester.check(review.view.rows_model)
    review.split_button.click()
    kinds = {r.kind for r in review.view.rows_model.rows}
    assert RowKind.CHANGE in kinds and RowKind.REMOVED not in kinds
    review.unified_button.click()
    assert RowKind.REMOVED in {r.kind for r in review.view.rows_model.rows}


def test_clicking_a_folded_row_expands_it(qtbot, tmp_path) -> None:
    body = "".join(f"line {i}\n" for i in range(1, 40))
    changed = body.replace("line 2\n", "line two\n").replace("line 38\n", "line 38!\n")
    hunk = "".join(("-" if i in (2, 38) else " ") + f"line {i}\n" for i in range(1, 40))
    hunk = hunk.replace("-line 2\n", "-line 2\n+line two\n").replace(
        "-line 38\n", "-line 38\n+line 38!\n")
    patch = ("diff --git a/t.txt b/t.txt\nindex 1..2 100644\n--- a/t.txt\n+++ b/t.txt\n"
             f"@@ -1,39 +1,39 @@\n{hunk}")
    assert changed.count("\n") == 39
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.set_patch("t", patch)
    model = widget.view.rows_model
    folded = next(i for i, r in enumerate(model.rows) if r.kind == RowKind.COLLAPSED)
    assert model.rows[folded].text == "⋯ 29 unchanged lines"
    before = model.rowCount()
    rect = widget.view.visualRect(model.index(folded))
    qtbot.mouseClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert model.rowCount() == before + 28
    assert all(r.kind != RowKind.COLLAPSED for r in model.rows)
    assert [r.old_no for r in model.rows[folded:folded + 29]] == list(range(6, 35))


def test_conflict_banner_names_the_files(review) -> None:
    assert not review.conflict.isVisible()
    review.show_conflict(["src/app/core.py"], "Your branch changed these files.")
    assert review.conflict.isVisible()
    assert "src/app/core.py" in review.conflict_label.text()


def test_copy_patch_copies_the_included_files_only(review, patch) -> None:
    button = next(b for b in review.findChildren(type(review.accept_button))
                  if b.text() == "Copy patch")
    button.click()
    copied = QGuiApplication.clipboard().text()
    assert "src/app/core.py" in copied and ".env" not in copied
    assert copied == "".join(fp.text for fp in review.files if fp.path != ".env")


def test_open_buttons_emit_intent(review, qtbot) -> None:
    buttons = {b.text(): b for b in review.findChildren(type(review.accept_button))}
    with qtbot.waitSignal(review.open_in_editor_requested) as editor:
        buttons["Open in editor"].click()
    assert editor.args == [".env"]
    with qtbot.waitSignal(review.open_folder_requested):
        buttons["Open folder"].click()


def test_a_new_patch_replaces_the_old_one(review, qtbot, git_diff) -> None:
    with qtbot.waitSignal(review.file_highlighted, timeout=10_000):
        review.set_patch("task-2", git_diff({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"}))
    assert [f.path for f in review.files] == ["a.py"]
    review.set_patch("task-3", "")
    assert review.files == [] and review.stack.currentWidget() is review.empty


def test_dark_theme_applies(review) -> None:
    review.set_theme(DARK)
    assert review.view.delegate.theme is DARK
    assert DARK.base in review.view.styleSheet()
    image = review.grab().toImage()
    assert image.pixelColor(image.width() - 20, image.height() - 20).lightness() < 60


def test_theme_watcher_follows_the_users_choice(qtbot) -> None:
    watcher = ThemeWatcher("light")
    assert watcher.theme is LIGHT
    with qtbot.waitSignal(watcher.changed) as changed:
        watcher.set_mode("dark")
    assert changed.args == [DARK] and watcher.theme is DARK
    with qtbot.assertNotEmitted(watcher.changed):
        watcher.set_mode("dark")
    # Offscreen Qt reports no colour scheme: "system" means the light theme there.
    assert resolve("system") is LIGHT
    assert palette_for(DARK).color(QPalette.ColorRole.Window).lightness() < 60


def test_long_lines_scroll_sideways_unified_and_side_by_side(qtbot) -> None:
    long = "x = " + "'a' + " * 80 + "'b'\n"
    patch = ("diff --git a/t.py b/t.py\nindex 1..2 100644\n--- a/t.py\n+++ b/t.py\n"
             f"@@ -1,2 +1,2 @@\n keep\n-{long}+{long.replace('b', 'c')}")
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.resize(1000, 400)
    widget.show()
    widget.set_patch("t", patch)
    view = widget.view
    qtbot.waitUntil(lambda: view.visualRect(view.rows_model.index(2)).width() > 0)
    assert view.visualRect(view.rows_model.index(2)).width() > view.viewport().width()
    widget.set_side_by_side(True)  # each half holds the whole line: the view scrolls
    qtbot.waitUntil(lambda: view.visualRect(view.rows_model.index(2)).width()
                    > 2 * view.viewport().width())
    qtbot.waitUntil(lambda: view.horizontalScrollBar().maximum() > 0)
    assert view.horizontalScrollBar().isVisible()


def test_short_lines_side_by_side_fill_the_view(qtbot, git_diff) -> None:
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.resize(1000, 400)
    widget.show()
    widget.set_patch("t", git_diff({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"}))
    widget.set_side_by_side(True)
    view = widget.view
    qtbot.waitUntil(lambda: view.rows_model.rowCount() > 1)
    qtbot.waitUntil(lambda: view.visualRect(view.rows_model.index(1)).width()
                    == view.viewport().width())
    assert view.horizontalScrollBar().maximum() == 0


def test_file_names_are_never_taken_for_markup(qtbot, git_diff) -> None:
    name = "<b>bold</b>.txt"
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.set_patch("t", git_diff({name: "a\n"}, {name: "b\n"}), {name: "<i>why</i>"})
    assert widget.file_path.text() == name
    assert widget.file_path.textFormat() == Qt.TextFormat.PlainText
    tooltip = _file_row(widget, name).data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;bold&lt;/b&gt;.txt" in tooltip and "&lt;i&gt;why&lt;/i&gt;" in tooltip
    widget.show_conflict([name], "a <script>")
    assert widget.conflict_label.textFormat() == Qt.TextFormat.PlainText
    assert name in widget.conflict_label.text() and "a <script>" in widget.conflict_label.text()


def test_a_long_file_is_coloured_from_the_top_first(qtbot, git_diff) -> None:
    before = "".join(f"value_{i} = {i}\n" for i in range(600))
    patch = git_diff({"long.py": before}, {"long.py": before.replace(" = ", " = -")})
    widget = DiffReview()
    qtbot.addWidget(widget)
    passes: list[bool] = []
    widget.file_highlighted.connect(
        lambda _n: passes.append(widget.view.rows_model.highlight.complete))
    widget.set_patch("t", patch)
    qtbot.waitUntil(lambda: passes == [False, True])
    assert len(widget.view.rows_model.highlight.new_tokens) == 600


def test_a_short_file_is_coloured_at_its_first_paint_a_wide_one_by_the_worker(
        qtbot, git_diff) -> None:
    wide = "".join(f"name_{i} = '{'x' * 400}'\n" for i in range(60))  # > QUICK_CHARS
    patch = git_diff({"a.py": "x = 1\n", "b.py": wide},
                     {"a.py": "x = 2\n", "b.py": wide.replace(" = ", " = -")})
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.set_patch("t", patch)
    highlight = widget.view.rows_model.highlight
    assert highlight is not None and highlight.complete  # no wait: done in set_patch
    widget.tree.select_file(1)
    assert widget.view.rows_model.highlight is None  # asked of the worker
    qtbot.waitUntil(lambda: widget.view.rows_model.highlight is not None)
    assert len(widget.view.rows_model.highlight.new_tokens) == 60


def test_copying_diff_rows_gives_their_text(review, qtbot) -> None:
    review.tree.select_file([f.path for f in review.files].index("src/app/core.py"))
    view, model = review.view, review.view.rows_model
    first_removed = next(i for i, r in enumerate(model.rows) if r.kind == RowKind.REMOVED)
    first_added = next(i for i, r in enumerate(model.rows) if r.kind == RowKind.ADDED)
    for row in (first_added, first_removed):
        view.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "    return x + 2\n    return x - 2"


def test_hostile_names_are_shown_escaped_and_flags_said(qtbot, git_diff) -> None:
    newline, escape, latin1 = "a\nb.txt", "\x1b]52;c;eA==\x07.txt", os.fsdecode(b"caf\xe9.txt")
    widget = DiffReview()
    qtbot.addWidget(widget)
    widget.set_patch("t", git_diff({"README.md": "x\n"}, {
        newline: "1\n", escape: "2\n", latin1: "3\n", ".gitattributes": "* text\n"}),
        {newline: "name contains control characters (\\n)",
         escape: "name contains control characters (\\x07, \\x1b)"},
        warnings={latin1: "name is not valid UTF-8", ".gitattributes": "changes .gitattributes"})
    paths = [f.path for f in widget.files]
    assert latin1 in paths  # its bytes kept, so excluding it names the engine's path
    shown = {p: _file_row(widget, p).data() for p in paths}
    assert shown == {newline: "a\\nb.txt ⚠", escape: "\\x1b]52;c;eA==\\x07.txt ⚠",
                     latin1: "caf\\xe9.txt ⚠", ".gitattributes": ".gitattributes ⚠"}
    assert "caf\\xe9.txt" in _file_row(widget, latin1).data(Qt.ItemDataRole.ToolTipRole)
    widget.tree.select_file(paths.index(escape))
    assert widget.file_path.text() == "\\x1b]52;c;eA==\\x07.txt"
    assert "Cannot be applied: name contains control" in widget.file_flag.text()
    assert widget.file_flag.textFormat() == Qt.TextFormat.PlainText
    widget.tree.select_file(paths.index(".gitattributes"))
    assert widget.file_flag.text() == "⚠ changes .gitattributes"
    labels = [w.text() for w in widget.findChildren(QLabel)]
    assert not any(c in text for text in labels for c in "\x1b\x07\udce9")
    model = widget.tree.files_model
    model.setData(_file_row(widget, latin1), Qt.CheckState.Unchecked.value,
                  Qt.ItemDataRole.CheckStateRole)
    with qtbot.waitSignal(widget.accept_requested) as accepted:
        widget.accept()
    assert sorted(accepted.args[1]) == sorted([newline, escape, latin1])
