"""The review panel: changed files, the diff of the chosen file, accept / reject.

`set_patch` only splits the patch into files (fast, see `agentdeck.desktop.review.diff.patch`); the shown
file is parsed on the spot, its first screenful highlighted at once when that is small
(a few ms) and the rest on a worker thread; other files when chosen.
``j``/``k`` move from hunk to hunk across the files (in the tree's order) and ``space``
leaves the current hunk out of the accept or takes it back; a file the engine does not
split into hunks (binary, added, deleted, renamed, mode change) is one unit.
Buttons only emit signals: the main window connects them to the engine. Every label
showing the agent's text (names, reasons) is plain text, names escaped (``\n``, ``\x1b``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton,
                               QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from agentdeck.desktop.widgets.elided_label import ElidedLabel
from agentdeck.desktop.review.diff.first_file import FirstFile
from agentdeck.desktop.review.diff.highlight import FileHighlight, Highlighter, quick_highlight
from agentdeck.desktop.review.diff.patch import FilePatch, split_patch
from agentdeck.desktop.review.diff.qt_comment_box import QtCommentBox
from agentdeck.desktop.review.diff.qt_diff_view import QtDiffView
from agentdeck.desktop.review.diff.qt_file_tree import QtFileTree
from agentdeck.desktop.review.diff.qt_review_style import review_style
from agentdeck.desktop.review.diff.rows import ParsedFile, parse_file
from agentdeck.desktop.widgets.theme import LIGHT, Theme, palette_for
from agentdeck.engine.api import escape_name
from agentdeck.engine.models import Comment


class QtDiffReview(QWidget):
    """Review of one task's diff.

    Signals:
        accept_requested(str, object): task id and what the user left out, ``PATH`` or
            ``PATH#N`` (a Python list: Qt's string list would drop bytes of a name not in
            UTF-8).
        reject_requested(str): task id.
        comment_requested(str, str, int, int, str): task id, path, first and last line (new
            side), the comment's text.
        request_changes_requested(str, object): task id and what was left out (as for
            accept): send the comments and those parts back to the agent.
        since_review_toggled(bool): show only what changed since the last review (True) or
            the whole change.
        open_in_editor_requested(str): path (in the repo) of the file shown.
        open_folder_requested(): the user wants the task's working copy opened.
        file_highlighted(int): syntax colours for file number N (at first maybe only for
            its first screenful of lines) arrived and are shown.
    """

    accept_requested = Signal(str, object)
    reject_requested = Signal(str)
    comment_requested = Signal(str, str, int, int, str)
    request_changes_requested = Signal(str, object)
    since_review_toggled = Signal(bool)
    open_in_editor_requested = Signal(str)
    open_folder_requested = Signal()
    file_highlighted = Signal(int)
    REST_DELAY_MS = 50

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.task_id = ""
        self.files: list[FilePatch] = []
        self._unsafe: dict[str, str] = {}
        self._warnings: dict[str, str] = {}
        self._comments: dict[str, dict[int, list[str]]] = {}  # path -> last line -> texts
        self.current: int | None = None
        self.current_hunk: int | None = None  # place (from 0) of the hunk j/k went to
        self._generation = 0  # results of an older patch's highlighting are dropped
        self._parsed: dict[int, ParsedFile] = {}
        self._highlights: dict[int, FileHighlight] = {}
        # Not a Qt child: it must outlive the widget's C++ side to be closed from `destroyed`.
        self._highlighter = Highlighter()
        self._highlighter.ready.connect(self._on_highlight_ready)
        self.destroyed.connect(self._highlighter.close)
        self.tree = QtFileTree(self, theme)
        self.view = QtDiffView(self, theme)
        self._build(theme)
        self.tree.file_selected.connect(self.show_file)
        self.tree.files_model.inclusion_changed.connect(self._on_inclusion_changed)
        self.view.selectionModel().currentChanged.connect(self._on_row_changed)
        self.comment_box.submitted.connect(self._on_comment)
        self.set_theme(theme)

    def set_patch(self, task_id: str, patch: str, unsafe: dict[str, str] | None = None,
                  subject: str = "", warnings: dict[str, str] | None = None,
                  hunks: dict[str, int] | None = None,
                  first: FirstFile | None = None) -> None:
        """Review ``patch`` (``git diff --binary -M`` output) of task ``task_id``.

        Args:
            task_id: the task the accept/reject signals will name.
            patch: the unified diff text.
            unsafe: path -> reason for files that start excluded (reason as tooltip).
            subject: what the change is, shown first in the bar (the task's title).
            warnings: path -> what to look at twice in a file that may be applied.
            hunks: path -> how many hunks of that file can be left out one by one
                (`Engine.get_hunks`); other files are one unit each.
            first: the first file of ``patch`` already parsed and highlighted
                (`prepare_first`), shown in colour at once.
        """
        self._generation += 1
        self.task_id = task_id
        self.set_subject(subject)
        self.files = split_patch(patch)
        self._parsed.clear()
        self._highlights.clear()
        self.current = None
        self.view.clear()
        # The tree before the first file: filling it calls into Python for every row, and
        # each call would wait for the GIL while a highlighter thread runs.
        self._unsafe, self._warnings = dict(unsafe or {}), dict(warnings or {})
        self.tree.set_files(self.files, self._unsafe, self._warnings, hunks)
        if first is not None and self.files and first.path == self.files[0].path:
            self._parsed[0] = first.parsed
            if first.highlight is not None:
                self._highlights[0] = replace(first.highlight, key=(self._generation, 0))
        if self.files:
            self.show_file(0)
        self.conflict.hide()
        self._update_summary()
        if self.files:
            self.tree.select_file(0)

    def set_subject(self, subject: str) -> None:
        """Say what the change is (the task's title) at the start of the bar."""
        self.subject.setText(subject)
        self.subject.setToolTip(subject)
        self.subject.setVisible(bool(subject))

    def show_file(self, number: int) -> None:
        """Show file number ``number`` of the patch and get it highlighted if needed."""
        if number == self.current:
            return
        fp = self.files[number]
        self.current = number
        parsed = self._parsed.get(number)
        if parsed is None:
            parsed = self._parsed[number] = parse_file(fp)
        highlight = self._highlights.get(number)
        self.view.show_file(fp, parsed, highlight, self._comments.get(fp.path))
        self.current_hunk = 0 if parsed.hunks else None
        self._show_hunk_marks()
        self._show_file_bar(fp)
        if highlight is not None:
            self.file_highlighted.emit(number)
            return
        key = (self._generation, number)
        quick = quick_highlight(key, fp.path, parsed)
        if quick is None:
            self._highlighter.request(key, fp.path, parsed)
            return
        self._on_highlight_ready(quick)
        if not quick.complete:  # the rest once the file is painted (see _request_rest)
            QTimer.singleShot(self.REST_DELAY_MS, lambda: self._request_rest(key))

    def _request_rest(self, key: tuple[int, int]) -> None:
        """Highlight the rest of a file whose first lines are shown.

        Later, not at once: while the worker runs, every call Qt makes into Python (the
        delegates painting the file) waits for the GIL.
        """
        generation, number = key
        if generation == self._generation and number == self.current \
                and number not in self._highlights:
            parsed = self._parsed[number]
            self._highlighter.request(key, self.files[number].path, parsed, full_only=True)

    def set_comments(self, comments: Sequence[Comment]) -> None:
        """Show these comments in the diff, each under the last line it is on."""
        self._comments = {}
        for comment in comments:
            lines = self._comments.setdefault(comment.path, {})
            lines.setdefault(comment.end_line, []).append(comment.text)
        if self.current is not None:
            self.view.set_comments(self._comments.get(self.files[self.current].path, {}))
        count = len(comments)
        self.request_button.setText(f"Request changes ({count})" if count else "Request changes")

    def start_comment(self) -> None:
        """Open the comment box for the selected lines of the shown file (key ``c``)."""
        lines = self.view.selected_new_lines() if self.current is not None else None
        if lines is not None:
            self.comment_box.open_for(self.files[self.current].path, *lines)

    def request_changes(self) -> None:
        """Ask to send the comments (and the unchecked files) back to the agent."""
        if self.task_id:
            self.request_changes_requested.emit(self.task_id, self.excluded_specs())

    def set_since_review(self, available: bool, on: bool = False) -> None:
        """Offer "Since last review" (when the task had a review that requested changes)
        and say which of the two is shown; signals stay quiet."""
        for button in (self.whole_button, self.since_button):
            button.setVisible(available)
            button.blockSignals(True)
        (self.since_button if on and available else self.whole_button).setChecked(True)
        for button in (self.whole_button, self.since_button):
            button.blockSignals(False)

    def _on_comment(self, path: str, line: int, end: int, text: str) -> None:
        if self.task_id:
            self.comment_requested.emit(self.task_id, path, line, end, text)

    def show_conflict(self, files: list[str], message: str) -> None:
        """Tell the user that accepting conflicted, naming the conflicting files."""
        # Plain text, names escaped: what the agent named can be neither markup nor escapes.
        listed = "".join(f"\n• {escape_name(f)}" for f in files[:20])
        more = f"\n… and {len(files) - 20} more" if len(files) > 20 else ""
        self.conflict_label.setText(f"Accept conflicted. {message}{listed}{more}")
        self.conflict.show()

    def excluded_paths(self) -> list[str]:
        """Paths of the files the user left out whole, in patch order."""
        return self.tree.files_model.excluded_paths()

    def excluded_specs(self) -> list[str]:
        """What Accept leaves out: ``PATH`` (a whole file) or ``PATH#N`` (a hunk)."""
        return self.tree.files_model.excluded_specs()

    def next_hunk(self) -> None:
        """Go to the next hunk, in the next file after the last one (key ``j``)."""
        self._step(1)

    def previous_hunk(self) -> None:
        """Go to the previous hunk, in the file before from the first one (key ``k``)."""
        self._step(-1)

    def toggle_hunk(self) -> None:
        """Leave the current hunk out of the accept, or take it back in (key ``space``);
        in a file that is one unit, the whole file."""
        if self.current is not None:
            self.tree.files_model.toggle_unit(self.current, self._unit(self.current_hunk))

    def _unit(self, hunk: int | None) -> int:
        """The engine's unit number (``PATH#N``) of shown hunk ``hunk`` of the current file."""
        split = self.tree.files_model.units[self.current] > 1
        return hunk + 1 if split and hunk is not None else 1

    def _step(self, step: int) -> None:
        if self.current is None:
            return
        count = len(self._parsed[self.current].hunks)
        target = (-1 if step > 0 else count) if self.current_hunk is None \
            else self.current_hunk + step
        if not 0 <= target < count:
            order = self.tree.files_model.display_order()
            at = order.index(self.current) + step
            if not 0 <= at < len(order):
                return
            self.tree.select_file(order[at])  # shows it, at its first hunk
            count = len(self._parsed[self.current].hunks)
            target = 0 if step > 0 else count - 1
            if count == 0:
                return
        self.current_hunk = target
        self._show_hunk_marks()
        self.view.show_hunk(target)

    def _show_hunk_marks(self) -> None:
        if self.current is None:
            return
        model = self.tree.files_model
        out = model.excluded_units(self.current)
        if model.units[self.current] > 1:
            self.view.set_hunk_marks(frozenset(n - 1 for n in out), False, self.current_hunk)
        else:
            self.view.set_hunk_marks(frozenset(), bool(out), self.current_hunk)

    def _on_row_changed(self, *_args: object) -> None:
        hunk = self.view.current_hunk_row()
        if hunk is not None and hunk != self.current_hunk:
            self.current_hunk = hunk
            self._show_hunk_marks()

    def included_patch(self) -> str:
        """The patch text of the checked files only (what "Copy patch" copies)."""
        excluded = set(self.excluded_paths())
        return "".join(fp.text for fp in self.files if fp.path not in excluded)

    def set_side_by_side(self, on: bool) -> None:
        """Show the diff side by side (True) or unified (False)."""
        (self.split_button if on else self.unified_button).setChecked(True)
        self.view.set_side_by_side(on)

    def set_theme(self, theme: Theme) -> None:
        """Repaint everything in ``theme``'s colours."""
        self.setPalette(palette_for(theme))
        self.setStyleSheet(review_style(theme))
        self.tree.set_theme(theme)
        self.view.set_theme(theme)

    def accept(self) -> None:
        """Ask to accept the checked files (same as the Accept button or key ``a``)."""
        if self.task_id and self.accept_button.isEnabled():
            self.accept_requested.emit(self.task_id, self.excluded_specs())

    def reject(self) -> None:
        """Ask to reject the task's change (the Reject button or key ``r``)."""
        if self.task_id:
            self.reject_requested.emit(self.task_id)

    def _build(self, theme: Theme) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._build_bar())
        self.conflict = QFrame(self, objectName="conflict")
        self.conflict_label = QLabel(self.conflict, wordWrap=True)
        self.conflict_label.setTextFormat(Qt.TextFormat.PlainText)
        QHBoxLayout(self.conflict).addWidget(self.conflict_label)
        self.conflict.layout().setContentsMargins(14, 8, 14, 8)
        self.conflict.hide()
        layout.addWidget(self.conflict)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setHandleWidth(1)
        splitter.addWidget(self.tree)
        splitter.addWidget(self._build_file_pane())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 900])
        layout.addWidget(splitter, 1)
        for key, slot in (("A", self.accept), ("R", self.reject), ("C", self.start_comment)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def _build_bar(self) -> QFrame:
        bar = QFrame(self, objectName="reviewBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(14, 8, 14, 8)
        row.setSpacing(8)
        self.subject = ElidedLabel(bar, objectName="reviewSubject")
        self.title = QLabel(bar, objectName="reviewTitle")
        self.add_count = QLabel(bar, objectName="addCount")
        self.del_count = QLabel(bar, objectName="delCount")
        row.addWidget(self.subject)
        for label in (self.title, self.add_count, self.del_count):
            row.addWidget(label)
        row.addSpacing(12)
        self.unified_button = self._segment(bar, "Unified", "segLeft", checked=True)
        self.split_button = self._segment(bar, "Split", "segRight")
        group = QButtonGroup(bar)
        for button in (self.unified_button, self.split_button):
            group.addButton(button)
            row.addWidget(button)
        row.setSpacing(8)
        self.split_button.toggled.connect(self.view.set_side_by_side)
        row.addSpacing(12)
        self.whole_button = self._segment(bar, "Whole change", "segLeft", checked=True)
        self.since_button = self._segment(bar, "Since last review", "segRight")
        shown = QButtonGroup(bar)
        for button in (self.whole_button, self.since_button):
            shown.addButton(button)
            row.addWidget(button)
            button.hide()
        self.since_button.toggled.connect(self.since_review_toggled.emit)
        row.addStretch(1)
        for text, slot in (("Copy patch", self._copy_patch),
                           ("Open in editor", self._open_in_editor),
                           ("Open folder", self.open_folder_requested.emit)):
            button = QPushButton(text, bar)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addSpacing(12)
        self.request_button = QPushButton(
            "Request changes", bar, objectName="requestChanges",
            toolTip="Send your comments (C on a line) and the unchecked files back to the "
                    "agent as a follow-up")
        self.request_button.clicked.connect(self.request_changes)
        row.addWidget(self.request_button)
        self.reject_button = QPushButton("Reject", bar, objectName="reject", toolTip="Reject (R)")
        self.accept_button = QPushButton("Accept", bar, objectName="accept", toolTip="Accept (A)")
        self.reject_button.clicked.connect(self.reject)
        self.accept_button.clicked.connect(self.accept)
        row.addWidget(self.reject_button)
        row.addWidget(self.accept_button)
        return bar

    def _segment(self, parent: QWidget, text: str, name: str, checked: bool = False) -> QToolButton:
        button = QToolButton(parent, text=text, objectName=name, checkable=True)
        button.setChecked(checked)
        return button

    def _build_file_pane(self) -> QWidget:
        pane = QWidget(self)
        column = QVBoxLayout(pane)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        bar = QFrame(pane, objectName="fileBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(14, 6, 14, 6)
        self.file_path = QLabel(bar, objectName="filePath", textFormat=Qt.TextFormat.PlainText)
        self.file_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_status = QLabel(bar, objectName="fileStatus")
        row.addWidget(self.file_path)
        row.addStretch(1)
        row.addWidget(self.file_status)
        column.addWidget(bar)
        self.file_flag = QLabel(pane, objectName="fileFlag", wordWrap=True,
                                textFormat=Qt.TextFormat.PlainText)
        self.file_flag.setContentsMargins(14, 4, 14, 4)
        self.file_flag.hide()
        column.addWidget(self.file_flag)
        self.stack = QStackedWidget(pane)
        self.empty = QLabel("No changes", pane, objectName="empty",
                            alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        column.addWidget(self.stack, 1)
        self.comment_box = QtCommentBox(pane)
        column.addWidget(self.comment_box)
        return pane

    def _show_file_bar(self, fp: FilePatch) -> None:
        path = escape_name(fp.path)
        shown = path if not fp.old_path or fp.old_path == fp.path \
            else f"{escape_name(fp.old_path)} → {path}"
        self.file_path.setText(shown)
        self.file_status.setText(f"{fp.status.value}   +{fp.added}  −{fp.removed}")
        flags = [f"⚠ Cannot be applied: {self._unsafe[fp.path]}"] if fp.path in self._unsafe \
            else []
        flags += [f"⚠ {self._warnings[fp.path]}"] if fp.path in self._warnings else []
        self.file_flag.setText("\n".join(flags))
        self.file_flag.setVisible(bool(flags))

    def _update_summary(self) -> None:
        count = len(self.files)
        self.title.setText(f"{count} file{'s' * (count != 1)} changed")
        self.add_count.setText(f"+{sum(f.added for f in self.files):,}")
        self.del_count.setText(f"−{sum(f.removed for f in self.files):,}")
        self.stack.setCurrentWidget(self.view if self.files else self.empty)
        if not self.files:
            self.file_path.setText("")
            self.file_status.setText("")
            self.file_flag.hide()
        self._on_inclusion_changed()

    def _on_inclusion_changed(self) -> None:
        excluded = len(self.excluded_paths())
        hunks = len(self.excluded_specs()) - excluded
        self.accept_button.setEnabled(bool(self.files) and excluded < len(self.files))
        text = f"Accept {len(self.files) - excluded} of {len(self.files)}" if excluded \
            else "Accept"
        self.accept_button.setText(text + (f", {hunks} hunk{'s' * (hunks != 1)} left out"
                                           if hunks else ""))
        self._show_hunk_marks()

    def _on_highlight_ready(self, result: FileHighlight) -> None:
        generation, number = result.key
        if generation != self._generation:
            return
        if result.complete:
            self._highlights[number] = result
        if number == self.current:
            self.view.set_highlight(result)
            self.file_highlighted.emit(number)

    def _copy_patch(self) -> None:
        QGuiApplication.clipboard().setText(self.included_patch())

    def _open_in_editor(self) -> None:
        if self.current is not None:
            self.open_in_editor_requested.emit(self.files[self.current].path)
