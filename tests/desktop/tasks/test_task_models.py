"""The task table model and its filter proxy, tested without a window."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.tasks.qt_task_filter import ACTIVE, TO_REVIEW, TaskFilterProxy
from agentdeck.desktop.tasks.qt_task_model import Column, SortRole, TaskRole, TaskTableModel
from agentdeck.engine.models import ReviewState, Task, TaskState
from tests.desktop.appkit import running, snapshot
def _ids(proxy: TaskFilterProxy) -> list[str]:
    return [proxy.index(row, 0).data(TaskRole).id for row in range(proxy.rowCount())]


def test_model_passes_qtmodeltester_through_reset_and_upserts(qapp, qtmodeltester):
    model = TaskTableModel()
    qtmodeltester.check(model)
    model.reset([snapshot("b"), running("a")])
    model.upsert([snapshot("d", created_at=2e9), snapshot("c", created_at=1e9),
                  running("a", tokens_in=10)])
    qtmodeltester.check(model)
    assert [t.id for t in model.tasks()] == ["d", "c", "b", "a"]  # new ones on top
    assert model.task("a").tokens_in == 10


def test_proxy_passes_qtmodeltester(qapp, qtmodeltester):
    model = TaskTableModel()
    model.reset([snapshot("a"), running("b"), snapshot("c", review=ReviewState.PENDING)])
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filters(state=ACTIVE)
    qtmodeltester.check(proxy)


def test_upsert_updates_the_row_in_place_and_signals_it(qtbot):
    model = TaskTableModel()
    model.reset([snapshot("a"), snapshot("b")])
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.upsert([running("b")])
    assert blocker.args[0].row() == 1
    assert model.rowCount() == 2
    assert model.index(1, Column.STATE).data() == "running"


def test_upsert_announces_changed_rows_once_and_unchanged_ones_not_at_all(qapp):
    def read(name: str, **fields) -> Task:
        return snapshot(name, created_at=1e9, **fields)

    model = TaskTableModel()
    model.reset([read(name) for name in "abcd"])
    spans: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: spans.append((top.row(), bottom.row())))
    model.upsert([read(name) for name in "abcd"])  # a re-read of the same snapshots
    assert spans == []
    model.upsert([read("b", state=TaskState.RUNNING), read("c"),
                  read("d", state=TaskState.RUNNING)])
    assert spans == [(1, 3)]
    assert model.task("d").state is TaskState.RUNNING


def test_display_texts_of_a_finished_task(qapp):
    task = snapshot("t1", title="Fix the parser", state=TaskState.SUCCEEDED, started_at=100.0,
                    finished_at=100.0 + 65, lines_added=12, lines_removed=3, files_changed=2,
                    tokens_in=1500, tokens_out=500, cost_usd=0.0421,
                    review=ReviewState.PENDING, endpoint="tcp://127.0.0.1:2376", runtime="docker")
    model = TaskTableModel()
    model.reset([task])
    texts = {c: model.index(0, c).data() for c in Column}
    assert texts[Column.TITLE] == "Fix the parser"
    assert texts[Column.ELAPSED] == "1:05"
    assert texts[Column.LINES] == "+12 −3"
    assert texts[Column.TOKENS] == "2.0k"
    assert texts[Column.COST] == "$0.042"
    assert texts[Column.REVIEW] == "pending"
    assert texts[Column.RUNTIME] == "docker · tcp://127.0.0.1:2376"
    assert texts[Column.REPO] == "demo"
    assert model.index(0, Column.STATE).data(Qt.ItemDataRole.DecorationRole) is not None


def test_elapsed_ticks_only_for_running_rows(qtbot):
    model = TaskTableModel(clock=lambda: 1000.0)
    model.reset([snapshot("q"), running("r", started=990.0),
                 snapshot("done", state=TaskState.FAILED, started_at=900.0, finished_at=950.0)])
    assert model.index(1, Column.ELAPSED).data() == "0:10"
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, _roles: changed.append(top.row()))
    model.tick()
    assert changed == [1]


def test_the_clock_tick_is_one_signal_for_all_running_rows(qtbot):
    model = TaskTableModel(clock=lambda: 1000.0)
    model.reset([running(f"r{i}", started=990.0) for i in range(50)] + [snapshot("q")])
    signals: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _roles: signals.append((top.row(), bottom.row())))
    model.tick()
    assert signals == [(0, 49)]


def test_filters_by_state_repo_batch_and_search():
    model = TaskTableModel()
    model.reset([
        snapshot("a1", title="Add logging", repo="/r/one", batch_id="b1"),
        running("a2", title="Refactor parser", repo="/r/two"),
        snapshot("a3", title="Docs", repo="/r/one", state=TaskState.SUCCEEDED,
                 review=ReviewState.PENDING, batch_id="b1"),
        snapshot("a4", prompt="rename the LOGGER", repo="/r/two", state=TaskState.FAILED),
    ])
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    assert sorted(_ids(proxy)) == ["a1", "a2", "a3", "a4"]
    proxy.set_filters(state=ACTIVE)
    assert sorted(_ids(proxy)) == ["a1", "a2"]
    proxy.set_filters(state=TO_REVIEW)
    assert _ids(proxy) == ["a3"]
    proxy.set_filters(state="failed")
    assert _ids(proxy) == ["a4"]
    proxy.set_filters(state="", repo="/r/one")
    assert sorted(_ids(proxy)) == ["a1", "a3"]
    proxy.set_filters(repo="", batch="b1", search="docs")
    assert _ids(proxy) == ["a3"]
    proxy.set_filters(batch="", search="LOGG")
    assert sorted(_ids(proxy)) == ["a1", "a4"]  # title or prompt, case-insensitive
    assert proxy.filters() == {"state": "", "repo": "", "batch": "", "search": "logg"}


def test_live_updates_enter_and_leave_a_filter():
    model = TaskTableModel()
    model.reset([snapshot("a")])
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filters(state="running")
    assert _ids(proxy) == []
    model.upsert([running("a")])
    assert _ids(proxy) == ["a"]
    model.upsert([snapshot("a", state=TaskState.SUCCEEDED)])
    assert _ids(proxy) == []


def test_sorting_uses_numbers_not_text():
    model = TaskTableModel()
    model.reset([snapshot("a", cost_usd=10.0), snapshot("b", cost_usd=9.5), snapshot("c")])
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.COST, Qt.SortOrder.DescendingOrder)
    assert _ids(proxy) == ["a", "b", "c"]
    assert proxy.index(0, Column.COST).data(SortRole) == 10.0
