"""The details pane's field texts."""
from __future__ import annotations

import time

from agentdeck.desktop.tasks.qt_task_model import Column, cell_text
from agentdeck.desktop.widgets.format import cost, timestamp
from agentdeck.desktop.tasks.task_details import field_values
from tests.desktop.appkit import snapshot


def test_a_scheduled_task_shows_when_it_starts():
    start = time.mktime((2031, 3, 4, 1, 0, 0, 0, 0, -1))
    task = snapshot("t1", not_before=start)
    assert field_values(task)["started"] == f"not before {timestamp(start)}"
    assert "01:00" in field_values(task)["started"]
    the_day_before = start - 12 * 3600
    assert cell_text(task, Column.ELAPSED, the_day_before) == "at Mar 04 01:00"
    assert cell_text(task, Column.ELAPSED, start - 600) == "at 01:00"
    assert field_values(snapshot("t2"))["started"] == "—"


def test_cost_shows_the_budget_when_there_is_one():
    assert field_values(snapshot("t1"))["cost"] == "—"
    with_budget = field_values(snapshot("t2", cost_usd=0.4, budget_usd=0.5))["cost"]
    assert with_budget == f"{cost(0.4)} of {cost(0.5)} budget"
    assert field_values(snapshot("t3", cost_usd=1.25))["cost"].startswith("$1.25")
