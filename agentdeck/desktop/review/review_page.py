"""The Review tab: the review inbox (`inbox.Inbox`) beside the diff panel
(`agentdeck.desktop.review.diff.DiffReview`), wired to the engine.

The patch of a task is loaded when the tab is shown (not on every selection), and again
when the task's result changes (a new attempt, a follow-up).
"""
from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShortcut
from PySide6.QtWidgets import QLabel, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from agentdeck.desktop.context import AppContext
from agentdeck.desktop.review.diff import DiffReview
from agentdeck.desktop.review.inbox import Inbox
from agentdeck.desktop.review.qt_compare_panel import ComparePanel
from agentdeck.desktop.review.review_fetch import Fetched, Prefetch, fetch, review_key
from agentdeck.desktop.widgets.theme import LIGHT, Theme
from agentdeck.engine.errors import AgentdeckError, ConflictError
from agentdeck.engine.models import ReviewState, Task

#: When the change ``n`` opens next is read, after one is shown.
PREFETCH_DELAY_MS = 150
#: How long the compare panel waits to re-read its group after an attempt changed.
_GROUP_REFRESH_MS = 300


def _subject(task: Task) -> str:
    """The task's title, and what became of its change once that is settled."""
    settled = {ReviewState.ACCEPTED: " (accepted)", ReviewState.REJECTED: " (rejected)"}
    return (task.title or task.id) + settled.get(task.review, "")


class ReviewPage(QWidget):
    """Shows the change of the current task; accept / reject go to the engine.

    Signals:
        message(str): an outcome for the status bar ("Committed 1a2b3c…").
        chosen(object): the user chose a `Task` in the inbox (``n``, ``p``, a click).
        rejected(list): ids of the tasks just rejected here (for Undo).
        shown(): what the page shows changed (a patch, or why there is none).
        open_requested(str): review another task (an attempt clicked in the compare panel).
    """

    message = Signal(str)
    chosen = Signal(object)
    rejected = Signal(list)
    shown = Signal()
    open_requested = Signal(str)

    def __init__(self, ctx: AppContext, theme: Theme = LIGHT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._task: Task | None = None
        self._loaded: tuple | None = None
        self._since_review = False  # show the interdiff rather than the whole change
        self._prefetch = Prefetch(ctx.engine, ctx.runner)
        self.panel = DiffReview(self, theme)
        self.placeholder = QLabel("Select a finished task to review its change.")
        self.placeholder.setTextFormat(Qt.TextFormat.PlainText)  # errors name agent files
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.panel)
        self.compare = ComparePanel()
        self.compare.chosen.connect(self.open_requested)
        self._group_timer = QTimer(self, singleShot=True, interval=_GROUP_REFRESH_MS)
        self._group_timer.timeout.connect(self._refresh_group)
        self.inbox = Inbox()
        self.inbox.set_order(ctx.ui_state.review_order())
        self.inbox.order_changed.connect(ctx.ui_state.set_review_order)
        self.inbox.chosen.connect(self.chosen)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.compare)
        column.addWidget(self.stack, 1)
        self.split = QSplitter()
        self.split.addWidget(self.inbox)
        self.split.addWidget(right)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([300, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.split)
        self.panel.accept_requested.connect(self._on_accept)
        self.panel.reject_requested.connect(self._on_reject)
        self.panel.open_in_editor_requested.connect(self._open_file)
        self.panel.open_folder_requested.connect(lambda: self._open_file(""))
        self.panel.comment_requested.connect(self._on_comment)
        self.panel.request_changes_requested.connect(self._on_request_changes)
        self.panel.since_review_toggled.connect(self._on_since_review)
        # The window's Accept / Reject / Comment actions own the A, R and C keys (and
        # forward to the panel here); a second binding inside the panel makes Qt call both
        # ambiguous. The comment box keeps its own keys.
        for shortcut in self.panel.findChildren(QShortcut):
            if shortcut.parent() is self.panel:
                shortcut.setEnabled(False)

    def _open_file(self, path: str) -> None:
        """Open a file of the task's working copy (or, for "", the folder) in the desktop's
        default application for it."""
        if self._task is not None:
            self._ctx.runner.spawn(self._open(self._task.id, path),
                                   on_error=lambda e: self.message.emit(str(e)))

    async def _open(self, task_id: str, path: str) -> None:
        target = await self._ctx.engine.working_copy_path(task_id, path)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
            self.message.emit(f"No application to open {target}")

    @property
    def task(self) -> Task | None:
        """The newest snapshot of the task chosen for review."""
        return self._task

    @property
    def task_id(self) -> str | None:
        """The task whose patch is on screen, if any."""
        return self.panel.task_id or None if self.stack.currentWidget() is self.panel else None

    async def load_inbox(self) -> None:
        """Fill the inbox with every task waiting for review (the bridge keeps it up to
        date from then on)."""
        self.inbox.model.reset(await self._ctx.engine.review_queue(self.inbox.model.order))

    def set_task(self, task: Task, load: bool) -> None:
        """Make ``task`` the one to review; ``load`` fetches its patch now."""
        self._task = task
        self.inbox.show_task(task.id)
        if load:
            self.ensure_loaded()

    def task_changed(self, task: Task) -> None:
        """A newer snapshot of the current task arrived."""
        self._task = task
        if self.isVisible():
            self.ensure_loaded()
        if self.panel.task_id == task.id:
            self.panel.set_subject(_subject(task))
        self.panel.accept_button.setEnabled(
            task.review.is_open and bool(self.panel.files))

    def tasks_changed(self, tasks: list[Task]) -> None:
        """Tasks changed: an attempt of the shown group among them refreshes the compare
        panel (a sibling finished, or was rejected by an accept)."""
        group = self._task.group_id if self._task else None
        if group and self.isVisible() and any(t.group_id == group for t in tasks):
            self._group_timer.start()  # at most a few reads a second while attempts run

    def _refresh_group(self) -> None:
        if self._task is not None:
            self._ctx.runner.spawn(self._load_group(self._task))

    async def _load_group(self, task: Task) -> None:
        rows = await self._ctx.engine.compare(task.group_id) if task.group_id else []
        if self._task is None or self._task.id != task.id:
            return
        if rows:
            self.compare.show_group(rows, task.id)
        else:
            self.compare.clear()

    def reload(self) -> None:
        """Fetch the patch again (its diff was just computed)."""
        self._loaded = None
        if self.isVisible():
            self.ensure_loaded()

    def ensure_loaded(self) -> None:
        """Fetch the current task's patch unless it is already shown."""
        task = self._task
        if task is None or review_key(task) + (self._since_review,) == self._loaded:
            return
        self._loaded = review_key(task) + (self._since_review,)
        ahead = self._prefetch.take(task)
        if ahead is not None and ahead.done() and not ahead.cancelled() \
                and ahead.exception() is None:  # read ahead: show it now
            self._show(task, ahead.result())
            self._ctx.runner.spawn(self._refresh_comments(task.id))
            self._ctx.runner.spawn(self._load_group(task))
        else:
            self._ctx.runner.spawn(self._load(task, ahead), on_error=self._load_failed)

    async def _load(self, task: Task, ahead: "asyncio.Task[Fetched] | None" = None) -> None:
        await self._load_group(task)
        try:  # the read started ahead, when it is still under way
            fetched = await ahead if ahead is not None and not ahead.done() else None
        except (AgentdeckError, asyncio.CancelledError):
            fetched = None
        if fetched is None:
            fetched = await fetch(self._ctx.engine, task.id)
        if self._task is None or self._task.id != task.id:
            return  # the user moved on meanwhile
        self._show(task, fetched)

    async def _refresh_comments(self, task_id: str) -> None:
        """Comments made since the change was read ahead (from the CLI, say)."""
        comments = await self._ctx.engine.comments(task_id)
        if self.panel.task_id == task_id:
            self.panel.set_comments(comments)

    def _read_ahead(self) -> None:
        self._prefetch.warm(self.inbox.peek(1))

    def _show(self, task: Task, fetched: Fetched) -> None:
        """Show ``task``'s change, then read ahead the one ``n`` opens next."""
        diff, since, comments = fetched.diff, fetched.since, fetched.comments
        patch = since if self._since_review and since is not None else fetched.patch
        # Once this one is painted: the reads' threads would slow its first paint.
        QTimer.singleShot(PREFETCH_DELAY_MS, self, self._read_ahead)
        if diff is None:
            self.placeholder.setText("This task has no change to review yet.")
            self.stack.setCurrentWidget(self.placeholder)
            self.shown.emit()
            return
        unsafe = {f.path: f.unsafe for f in diff.files if f.unsafe}
        warnings = {f.path: f.warning for f in diff.files if f.warning}
        self.panel.set_patch(task.id, patch, unsafe, subject=_subject(task), warnings=warnings,
                             hunks=None if patch is not fetched.patch else fetched.hunks,
                             first=fetched.first if patch is fetched.patch else None)
        self.panel.set_since_review(since is not None, self._since_review and since is not None)
        self.panel.set_comments(comments)
        self.panel.accept_button.setEnabled(task.review.is_open and bool(self.panel.files))
        self.stack.setCurrentWidget(self.panel)
        self.shown.emit()

    def _load_failed(self, exc: AgentdeckError) -> None:
        """Say on the page why there is nothing to review (and try again next time)."""
        self._loaded = None
        self.placeholder.setText(f"This change cannot be shown: {exc}")
        self.stack.setCurrentWidget(self.placeholder)
        self.message.emit(str(exc))
        self.shown.emit()

    def request_accept(self) -> None:
        """Accept what is checked in the panel (key ``a``)."""
        self.panel.accept()

    def request_reject(self) -> None:
        """Reject the shown change (key ``r``)."""
        self.panel.reject()

    def request_next_hunk(self) -> None:
        """Go to the next hunk of the change (key ``j``)."""
        self.panel.next_hunk()

    def request_previous_hunk(self) -> None:
        """Go to the previous hunk of the change (key ``k``)."""
        self.panel.previous_hunk()

    def request_toggle_hunk(self) -> None:
        """Leave the current hunk out of the accept or take it back (key ``space``)."""
        self.panel.toggle_hunk()

    def request_comment(self) -> None:
        """Comment on the selected diff lines (key ``c``)."""
        self.panel.start_comment()

    def _on_since_review(self, on: bool) -> None:
        self._since_review = on
        self.reload()

    def _on_comment(self, task_id: str, path: str, line: int, end: int, text: str) -> None:
        self._ctx.runner.spawn(self._comment(task_id, path, line, end, text),
                               on_error=lambda e: self.message.emit(str(e)))

    async def _comment(self, task_id: str, path: str, line: int, end: int, text: str) -> None:
        engine = self._ctx.engine
        comment = await engine.comment(task_id, path, line, text, end)
        comments = await engine.comments(task_id)
        if self.panel.task_id == task_id:
            self.panel.set_comments(comments)
        self.message.emit(f"Comment on {comment.where} saved: Request changes sends it")

    def _on_request_changes(self, task_id: str, excluded: list) -> None:
        self._ctx.runner.spawn(self._request_changes(task_id, excluded),
                               on_error=lambda e: self.message.emit(str(e)))

    async def _request_changes(self, task_id: str, excluded: list) -> None:
        task = await self._ctx.engine.request_changes(task_id, exclude=excluded)
        self.message.emit(f"Changes requested: the follow-up runs as attempt {task.attempt}")

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme``."""
        self.panel.set_theme(theme)

    def _on_accept(self, task_id: str, excluded: list) -> None:
        self._ctx.runner.spawn(self._accept(task_id, excluded), on_error=self._accept_failed)

    async def _accept(self, task_id: str, excluded: list) -> None:
        result = await self._ctx.engine.accept(task_id, exclude=excluded)
        left_out = f" ({len(excluded)} file(s) or hunk(s) left out)" if excluded else ""
        notes = "".join(f"; {note}" for note in result.notes)
        self.message.emit(f"Accepted: committed {result.commit[:12]}{left_out}{notes}")

    def _accept_failed(self, exc: AgentdeckError) -> None:
        if isinstance(exc, ConflictError):
            self.panel.show_conflict(exc.files, str(exc))
        self.message.emit(str(exc))

    def _on_reject(self, task_id: str) -> None:
        self._ctx.runner.spawn(self._reject(task_id))

    async def _reject(self, task_id: str) -> None:
        await self._ctx.engine.reject(task_id)
        self.rejected.emit([task_id])
