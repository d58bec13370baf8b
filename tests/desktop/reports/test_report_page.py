"""The Reports tab on a real engine: a batch with a failed task as a table (why it
failed included) and QtCharts bar charts of cost and duration per task."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from agentdeck.desktop.reports.qt_report_charts import task_labels, time_unit
from agentdeck.desktop.widgets.qt_summary_model import SummaryColumn
from agentdeck.engine.api import LAST_NIGHT, BatchSpec, TaskSpec
from agentdeck.engine.config.pricing import cost_usd
from agentdeck.engine.models import TaskState
from tests.desktop.appkit import run
from tests.engine.enginekit import builtin_home, make_repo
from tests.fakes.scripts import reply, tool_call

MODEL = "gpt-4.1"


def _bars(view) -> list[float]:
    (series,) = view.chart().series()
    (bars,) = series.barSets()
    return [bars.at(n) for n in range(bars.count())]


def _categories(view) -> list[str]:
    axis = view.chart().axes()[0]
    return list(axis.categories())


def test_the_report_page_shows_a_batch_with_its_failure_and_charts(
        qtbot, qtmodeltester, open_session, tmp_path, llm_server, monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-test-report")
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(
        reply("", tool_call("edit_file", {"path": "src/app.py", "old": "x = 1",
                                          "new": "x = 2"}), input_tokens=100_000,
              output_tokens=1000),
        reply("", tool_call("finish", {"summary": "x is two"}), input_tokens=100_000,
              output_tokens=1000))
    home = builtin_home(tmp_path / "home", llm_server.base_url, MODEL)
    session = open_session(home)
    window, engine = session.window, session.ctx.engine
    window.show()
    spec = BatchSpec("nightly", (
        TaskSpec("make x two", str(repo), "write a", agent="bot"),
        TaskSpec('sleep 1; echo "disk quota exceeded" >&2; exit 5', str(repo), "doomed"),
    ))
    tasks = run(qtbot, engine.submit_batch(spec))
    qtbot.waitUntil(lambda: all(window.model.task(t.id) is not None
                                and window.model.task(t.id).state.is_terminal for t in tasks),
                    timeout=30_000)

    window.actions_["show_reports"].trigger()
    page = window.reports
    assert window.tabs.currentWidget() is page
    qtbot.waitUntil(lambda: page.choice.count() == 2, timeout=10_000)
    assert page.choice.currentData() == LAST_NIGHT
    page.choice.setCurrentIndex(1)
    page.choice.activated.emit(1)
    qtbot.waitUntil(lambda: page.report is not None
                    and page.report.title.startswith("batch nightly"), timeout=10_000)
    qtmodeltester.check(page.model)
    cells = [[page.model.index(r, c).data() for c in SummaryColumn] for r in range(2)]
    assert cells[0][:6] == ["write a", "bot", "succeeded", "pending", "+1 −1", "1"]
    assert cells[1][:3] == ["doomed", "shell", "failed"]
    assert cells[1][SummaryColumn.FAILURE] == "the agent exited with code 5"
    tip = page.model.index(1, SummaryColumn.FAILURE).data(Qt.ItemDataRole.ToolTipRole)
    assert "disk quota exceeded" in tip
    rows = page.report.tasks
    spent = cost_usd(MODEL, 200_000, 2000)
    assert spent > 0 and rows[0].cost_usd == pytest.approx(spent)
    assert page.heading.text().endswith(f": 2 task(s), 1 failed, cost ${spent:.2f}")
    assert _categories(page.charts.cost_view) == ["1. write a", "2. doomed"]
    assert _bars(page.charts.cost_view) == pytest.approx([spent, 0.0])
    unit, _ = time_unit([r.duration for r in rows])
    assert unit == "seconds"
    assert _bars(page.charts.time_view) == pytest.approx([r.duration for r in rows])
    assert _bars(page.charts.time_view)[1] >= 1.0  # the task that slept a second

    page.table.doubleClicked.emit(page.model.index(1, 0))
    assert window.current_task_id() == tasks[1].id
    assert window.tabs.currentWidget() is window.split


def test_chart_labels_are_numbered_and_units_fit_the_longest_task():
    from agentdeck.engine.models import ReviewState, TaskSummary
    rows = [TaskSummary(str(n), title, "shell", TaskState.SUCCEEDED,
                        ReviewState.NONE, 0, 0, 0, 1.0, 0.0)
            for n, title in enumerate(["same title", "same title", "<img src=x>&"])]
    # Numbered (a category axis merges equal labels) and escaped: QtCharts renders HTML.
    assert task_labels(rows) == ["1. same title", "2. same title", "3. &lt;img src=x&gt;&amp;"]
    assert time_unit([30.0, 100.0]) == ("seconds", 1.0)
    assert time_unit([30.0, 600.0]) == ("minutes", 60.0)
    assert time_unit([3 * 3600.0]) == ("hours", 3600.0)
    assert time_unit([]) == ("seconds", 1.0)
