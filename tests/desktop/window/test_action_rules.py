"""Which task commands the focused view's tasks allow."""
from __future__ import annotations

from agentdeck.desktop.window.action_rules import TASK_COMMANDS, enabled_commands
from agentdeck.engine.models import ReviewState, TaskState
from tests.desktop.appkit import running, snapshot

_WAITING = snapshot("w", state=TaskState.SUCCEEDED, review=ReviewState.PENDING)
_ACCEPTED = snapshot("a", state=TaskState.SUCCEEDED, review=ReviewState.ACCEPTED)


def test_nothing_applies_to_no_task():
    assert enabled_commands([], in_review=False) == dict.fromkeys(TASK_COMMANDS, False)


def test_a_waiting_change_can_be_decided_approved_and_freshened():
    rules = enabled_commands([_WAITING], in_review=False)
    assert {name for name, on in rules.items() if on} == {
        "accept", "reject", "retry", "approve", "freshen", "hand_back"}
    assert enabled_commands([_WAITING], in_review=True)["comment"]


def test_a_running_or_settled_task_cannot_be_approved_or_freshened():
    for task in (running("r"), _ACCEPTED):
        rules = enabled_commands([task], in_review=True)
        assert not (rules["approve"] or rules["freshen"] or rules["hand_back"])
    assert enabled_commands([running("r")], in_review=False)["cancel"]
    assert not enabled_commands([_ACCEPTED], in_review=False)["retry"]
