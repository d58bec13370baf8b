"""The details pane's field texts."""
from __future__ import annotations

from agentdeck.desktop.widgets.format import cost
from agentdeck.desktop.tasks.task_details import field_values
from tests.desktop.appkit import snapshot
def test_cost_shows_the_budget_when_there_is_one():
    assert field_values(snapshot("t1"))["cost"] == "—"
    with_budget = field_values(snapshot("t2", cost_usd=0.4, budget_usd=0.5))["cost"]
    assert with_budget == f"{cost(0.4)} of {cost(0.5)} budget"
    assert field_values(snapshot("t3", cost_usd=1.25))["cost"].startswith("$1.25")
