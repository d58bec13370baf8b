"""The main window: task table with filters, wall, task view, review, status bar."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QMainWindow, QSplitter, QTableView, QTabWidget,
    QVBoxLayout, QWidget,
)

from agentdeck.desktop.commands import make_actions, refresh_icons
from agentdeck.desktop.context import AppContext
from agentdeck.desktop.tasks.filter_bar import FilterBar
from agentdeck.desktop.widgets.icons import icon
from agentdeck.desktop.tasks.qt_task_filter import ACTIVE, TO_REVIEW, TaskFilterProxy
from agentdeck.desktop.tasks.qt_task_model import Column, TaskRole, TaskTableModel
from agentdeck.desktop.window.action_rules import TASK_COMMANDS, enabled_commands
from agentdeck.desktop.window.notify import Notifier
from agentdeck.desktop.reports.report_page import ReportPage
from agentdeck.desktop.review.review_page import ReviewPage
from agentdeck.desktop.storage.storage_view import StorageView
from agentdeck.desktop.window.status_bar import BatchProgress, Counters
from agentdeck.desktop.widgets.theme import Theme
from agentdeck.desktop.tasks.task_actions import TaskActions
from agentdeck.desktop.tasks.task_view import TaskView
from agentdeck.desktop.wall.wall import WALL_STATES, Wall
from agentdeck.desktop.window.menus import build_menus
from agentdeck.engine.models import Task

#: How many recent tasks are loaded at start; filters query the engine for more.
LOAD_LIMIT = 2000
_REFRESH_MS = 400
_OVERLAPS_MS = 5000
_UNFINISHED = ["queued", "preparing", "running", "needs_input"]
#: The tabs in order, by the name the UI state keeps (and their icons').
_VIEWS = ("wall", "list", "review", "reports", "storage")


class MainWindow(QMainWindow):
    """Everything the user sees; all changes go through `AppContext.engine`.

    Signals:
        theme_mode_changed(str): the user picked "system", "light" or "dark".
        closed(): the window was closed (the app then closes the engine and quits).
    """

    theme_mode_changed = Signal(str)
    closed = Signal()

    def __init__(self, ctx: AppContext, theme: Theme) -> None:
        super().__init__()
        self.ctx = ctx
        self.theme = theme
        self.setWindowTitle("agentdeck")
        self.setWindowIcon(icon("app"))
        self.model = TaskTableModel(self)
        self.proxy = TaskFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.actions_ = make_actions(self)
        self.task_actions = TaskActions(ctx, self.show_message)
        self.notifier = Notifier(ctx.ui_state, self, spawn=ctx.runner.spawn)
        self._current: str | None = None
        self._undo_ids: list[str] = []  # the tasks of the last reject, for Undo
        self._build_views()
        self._build_status_bar()
        build_menus(self)
        self._connect()
        self._restore()

    # -- construction -------------------------------------------------------------------
    def _build_views(self) -> None:
        self.filter_bar = FilterBar()
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        # Every column can be dragged wider or narrower (a stretched title could not, and
        # shrank to "l…" beside the others); the last one takes what is left.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        widths = {Column.STATE: 100, Column.TITLE: 280, Column.AGENT: 64, Column.REPO: 96,
                  Column.RUNTIME: 64,
                  Column.ELAPSED: 60, Column.LINES: 72, Column.TOKENS: 56, Column.COST: 56,
                  Column.REVIEW: 68, Column.OVERLAP: 60}
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        left = QWidget()
        layout = QVBoxLayout(left)
        layout.setContentsMargins(8, 8, 0, 8)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.table)
        self.task_view = TaskView(self.ctx, self.theme)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(left)
        self.split.addWidget(self.task_view)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setSizes([940, 500])
        self.wall = Wall()
        self.review = ReviewPage(self.ctx, self.theme)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.wall, icon("wall"), "Wall")
        self.tabs.addTab(self.split, icon("list"), "Tasks")
        self.tabs.addTab(self.review, icon("review"), "Review")
        self.reports = ReportPage(self.ctx)
        self.tabs.addTab(self.reports, icon("reports"), "Reports")
        self.storage = StorageView(self.ctx)
        self.tabs.addTab(self.storage, icon("storage"), "Storage")
        self.setCentralWidget(self.tabs)

    def _build_status_bar(self) -> None:
        self.counters = Counters()
        self.batch_progress = BatchProgress()
        self.statusBar().addPermanentWidget(self.batch_progress)
        self.statusBar().addPermanentWidget(self.counters)

    def _connect(self) -> None:
        bridge = self.ctx.bridge
        bridge.tasks_changed.connect(self._on_tasks_changed)
        bridge.logs_appended.connect(self._on_logs)
        bridge.notice.connect(self._on_notice)
        self.ctx.runner.failed.connect(self.show_message)
        self.notifier.notified.connect(lambda _title, body: self.show_message(body))
        self.notifier.show_requested.connect(self._raise)
        self.notifier.quit_requested.connect(self.close)
        self.filter_bar.changed.connect(self._on_filters)
        self.counters.chosen.connect(self.show_state)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.doubleClicked.connect(lambda _index: self.task_view.focus_log())
        self.wall.open_task.connect(self.open_task)
        self.tabs.currentChanged.connect(self._on_tab)
        self.review.message.connect(self.show_message)
        self.review.chosen.connect(self._show_reviewed)
        self.review.rejected.connect(self._on_rejected)
        self.review.shown.connect(self.update_actions)
        self.review.inbox.model.modelReset.connect(self.update_actions)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        self.notifier.review_requested.connect(lambda: self.step_review(1))
        self.review.open_requested.connect(self.review_task)
        self.reports.open_task.connect(self.open_task)
        self.reports.message.connect(self.show_message)
        self._clock = QTimer(self, interval=1000)
        self._clock.timeout.connect(self._tick)
        self._clock.start()
        self._refresh = QTimer(self, singleShot=True, interval=_REFRESH_MS)
        self._refresh.timeout.connect(self._on_refresh)
        self._overlap_timer = QTimer(self, interval=_OVERLAPS_MS)
        self._overlap_timer.timeout.connect(self._on_overlap_timer)
        self._overlap_timer.start()

    def _on_overlap_timer(self) -> None:
        if self.isVisible():
            self.ctx.runner.spawn(self.refresh_overlaps())

    async def refresh_overlaps(self) -> None:
        """Ask the engine which tasks touch the same files (it walks running copies at
        most every few seconds, off the loop) and mark them in the table and the inbox."""
        overlaps = await self.ctx.engine.overlaps()
        self.model.set_overlaps(overlaps)
        self.review.inbox.model.set_overlaps(overlaps)

    def _on_refresh(self) -> None:
        if self.isVisible():  # a closed window (the engine closing) reads nothing more
            self.ctx.runner.spawn(self.refresh_counts())

    def _restore(self) -> None:
        state = self.ctx.ui_state
        if not state.restore_window(self):
            self.resize(1320, 820)
        state.restore_splitter("tasks", self.split)
        if state.restore_header("tasks", self.table.horizontalHeader()):
            # A layout saved before titles were resizable brings back their stretch mode.
            self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        view = state.view()
        self.tabs.setCurrentIndex(_VIEWS.index(view) if view in _VIEWS else 1)

    # -- loading ------------------------------------------------------------------------
    async def load(self) -> None:
        """Fill the window from the engine (recent tasks, unfinished ones, batches)."""
        engine = self.ctx.engine
        recent = await engine.list_tasks(limit=LOAD_LIMIT)
        unfinished = await engine.list_tasks(state=_UNFINISHED)
        self.model.reset(recent)
        self.model.upsert(unfinished)
        tasks = self.model.tasks()
        self.wall.sync(t for t in tasks if t.state in WALL_STATES)
        self.notifier.seed(tasks)
        self.filter_bar.add_repos(sorted({t.repo for t in tasks}))
        self.filter_bar.set_batches(await engine.list_batches())
        self.filter_bar.set_values(self.ctx.ui_state.filters())
        if self.proxy.rowCount():
            self.table.selectRow(0)
        await self.review.load_inbox()
        for notice in engine.notices:  # said while the engine opened, before we listened
            self._on_notice(notice.level, notice.message, notice.task_id)
        if not engine.drives:
            self.show_message("Another agentdeck process runs the queue: tasks you start here "
                              "are run by it, and this window follows them")
        await self.refresh_counts()

    async def refresh_counts(self) -> None:
        """Re-read the status bar counters and the progress of the newest open batch."""
        engine = self.ctx.engine
        counts = await engine.counts()
        self.counters.set_counts(counts)
        self.notifier.set_counts(counts)
        self.update_actions()
        for batch in (await engine.list_batches())[:5]:
            progress = await engine.batch_progress(batch.id)
            if progress["done"] < progress["total"]:
                self.batch_progress.set_progress(batch.name or batch.id, progress)
                return
        self.batch_progress.set_progress(None, None)

    async def _query(self, filters: dict[str, str]) -> None:
        # The model holds the newest LOAD_LIMIT tasks; older matches come from the engine.
        state = filters["state"]
        states = _UNFINISHED if state == ACTIVE else ([state] if state and state != TO_REVIEW else None)
        found = await self.ctx.engine.list_tasks(
            state=states, repo=filters["repo"] or None, batch_id=filters["batch"] or None,
            search=filters["search"].strip() or None, limit=LOAD_LIMIT)
        self.model.upsert(found)

    # -- engine events ------------------------------------------------------------------
    def _on_tasks_changed(self, tasks: list[Task]) -> None:
        self.model.upsert(tasks)
        self.review.inbox.model.upsert(tasks)
        self.wall.sync(tasks)
        self.notifier.on_tasks_changed(tasks)
        self.filter_bar.add_repos([t.repo for t in tasks])
        reviewed = self.review.task
        for task in tasks:
            if task.id == self._current:
                self.task_view.show_task(task)
            if reviewed is not None and task.id == reviewed.id:
                self.review.task_changed(task)
        self.review.tasks_changed(tasks)
        self.reports.tasks_changed(tasks)
        if not self._refresh.isActive():
            self._refresh.start()
        self.update_actions()

    def _on_logs(self, logs: dict) -> None:
        self.wall.append_logs(logs)
        if self._current in logs:
            self.task_view.append_entries(self._current, logs[self._current])

    def _on_notice(self, level: str, message: str, _task_id: object) -> None:
        self.show_message(message if level == "info" else f"{level.capitalize()}: {message}")

    # -- selection and navigation -------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        task = current.data(TaskRole) if current.isValid() else None
        if task is not None and task.id != self._current:
            self._show(task)
        self.update_actions()

    def _show(self, task: Task) -> None:
        self._current = task.id
        self.task_view.set_task(task)
        self.review.set_task(task, load=self.tabs.currentWidget() is self.review)
        self.update_actions()

    def _show_reviewed(self, task: Task) -> None:
        """A task chosen in the review inbox: reviewed now; the Tasks view (its table,
        filters and the task it shows) is left as it is."""
        self.review.set_task(task, load=True)
        self.update_actions()

    def open_task(self, task_id: str) -> None:
        """Select ``task_id`` in the table (clearing filters that hide it) and show it."""
        row = self.model.row_of(task_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.filter_bar.set_values({})
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        self._show(self.model.task(task_id))
        self.tabs.setCurrentWidget(self.split)

    def on_submitted(self, tasks: list[Task]) -> None:
        """New tasks from a dialog: show them at once (the bus update follows)."""
        self.model.upsert(tasks)
        self.filter_bar.add_repos([t.repo for t in tasks])
        if any(t.batch_id for t in tasks):
            self.ctx.runner.spawn(self._reload_batches())
        if tasks:
            self.open_task(tasks[0].id)
        self.show_message(f"Queued {len(tasks)} task{'s' if len(tasks) != 1 else ''}")

    async def _reload_batches(self) -> None:
        self.filter_bar.set_batches(await self.ctx.engine.list_batches())
        await self.refresh_counts()

    def set_theme(self, theme: Theme) -> None:
        """Repaint in ``theme`` (icons are re-tinted for its text colour)."""
        self.theme = theme
        refresh_icons(self.actions_)
        self.filter_bar.refresh_icons()
        self.review.set_theme(theme)
        self.reports.set_theme(theme)
        self.task_view.set_theme(theme)
        for index, name in enumerate(_VIEWS):
            self.tabs.setTabIcon(index, icon(name))

    def current_task_id(self) -> str | None:
        """The task shown in the Tasks view (and in Review, unless one was chosen in
        the inbox since)."""
        return self._current

    def selected_ids(self) -> list[str]:
        """Ids of the selected rows of the task table, or of its current row."""
        rows = self.table.selectionModel().selectedRows()
        current = self.table.currentIndex().data(TaskRole)
        return [index.data(TaskRole).id for index in rows] or ([current.id] if current else [])

    def target_ids(self) -> list[str]:
        """The tasks a command acts on: what the view on screen shows (the reviewed
        task, the selected rows of Tasks), never a selection hidden in another view."""
        page = self.tabs.currentWidget()
        if page is self.review:
            return [self.review.task_id] if self.review.task_id else []
        return self.selected_ids() if page is self.split else []

    def update_actions(self) -> None:
        """Enable the task commands that can apply to what the focused view shows."""
        in_review = self.tabs.currentWidget() is self.review
        targets = [self.review.task] if in_review and self.review.task_id else [
            t for t in map(self.model.task, self.target_ids()) if t is not None]
        rules = enabled_commands(targets, in_review=in_review)
        for name in TASK_COMMANDS:
            self.actions_[name].setEnabled(rules[name])
        waiting = self.review.inbox.model.rowCount() > 0
        self.actions_["next_review"].setEnabled(waiting)
        self.actions_["prev_review"].setEnabled(waiting)
        self.actions_["undo"].setEnabled(bool(self._undo_ids))

    def step_review(self, delta: int) -> None:
        """Review the next (1) or previous (-1) task of the inbox (keys N and P)."""
        if self.review.inbox.step(delta) is None:
            self.show_message("Nothing is waiting for review")
        self.tabs.setCurrentWidget(self.review)

    def selected_tasks(self) -> list[Task]:
        """The snapshots of `target_ids` (the tasks the focused view shows)."""
        return [task for task in map(self.model.task, self.target_ids()) if task]

    def review_task(self, task_id: str) -> None:
        """Select ``task_id`` and show its change on the Review tab."""
        self.open_task(task_id)
        self.tabs.setCurrentWidget(self.review)

    def accept(self) -> None:
        """Accept in the review page (with its exclusions) or the selected tasks whole."""
        if self.tabs.currentWidget() is self.review:
            self.review.request_accept()
        else:
            self.task_actions.accept(self.target_ids())

    def reject(self) -> None:
        """Reject the reviewed task or the selected tasks (Undo brings them back)."""
        if self.tabs.currentWidget() is self.review:
            self.review.request_reject()
        else:
            self.task_actions.reject(self.target_ids(), on_done=self._on_rejected)

    def _on_rejected(self, ids: list[str]) -> None:
        self._undo_ids = list(ids)
        count = f"{len(ids)} tasks" if len(ids) != 1 else "1 task"
        self.show_message(f"Rejected {count}: Undo (Ctrl+Z) brings {'them' if len(ids) != 1 else 'it'} back")
        self.update_actions()

    def undo_reject(self) -> None:
        """Reopen the tasks of the last reject (key Ctrl+Z)."""
        ids, self._undo_ids = self._undo_ids, []
        if ids:
            self.task_actions.reopen(ids)
        else:
            self.show_message("Nothing to undo")
        self.update_actions()

    def show_state(self, state_filter: str) -> None:
        """The task list filtered by a state, or for "to review" the review inbox (a
        status bar counter was clicked)."""
        if state_filter == TO_REVIEW:
            self.tabs.setCurrentWidget(self.review)
            return
        self.tabs.setCurrentWidget(self.split)
        self.filter_bar.show_state(state_filter)

    def _on_filters(self, filters: dict[str, str]) -> None:
        self.proxy.set_filters(**filters)
        self.ctx.ui_state.set_filters(filters)
        # With no filter the model already holds what a query would find.
        if self.model.rowCount() >= LOAD_LIMIT and any(filters.values()):
            self.ctx.runner.spawn(self._query(filters))

    def _on_tab(self, index: int) -> None:
        self.ctx.ui_state.set_view(_VIEWS[index])
        if self.tabs.widget(index) is self.review:
            self.review.ensure_loaded()
        elif self.tabs.widget(index) is self.reports:
            self.reports.load()
        elif self.tabs.widget(index) is self.storage:
            self.storage.refresh()
        self.update_actions()

    def _tick(self) -> None:
        self.model.tick()
        self.wall.tick()
        self.task_view.tick()

    def _raise(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def show_message(self, text: str) -> None:
        """A non-modal message in the status bar."""
        if text:
            self.statusBar().showMessage(text, 10_000)

    # -- closing ------------------------------------------------------------------------
    def save_state(self) -> None:
        """Persist geometry, splitters, columns and filters."""
        state = self.ctx.ui_state
        state.save_window(self)
        state.save_splitter("tasks", self.split)
        state.save_header("tasks", self.table.horizontalHeader())
        self.task_view.save_state(state)
        state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self._clock.stop()
        self._refresh.stop()
        self.notifier.hide()
        super().closeEvent(event)
        self.closed.emit()
