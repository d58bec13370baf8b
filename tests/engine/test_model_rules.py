"""The derived rules on the models: each stated once, and what every view relies on."""
from __future__ import annotations

from agentdeck.engine.models import OPEN_REVIEWS, TERMINAL_STATES, ReviewState, TaskState


def test_unfinished_is_everything_not_terminal():
    assert {s for s in TaskState if s.is_unfinished} == set(TaskState) - TERMINAL_STATES
    assert {s for s in TaskState if s.is_unfinished} == {
        TaskState.QUEUED, TaskState.PREPARING, TaskState.RUNNING, TaskState.NEEDS_INPUT}


def test_a_task_can_be_queued_again_once_ended_or_waiting_for_an_answer():
    assert {s for s in TaskState if s.can_requeue} == TERMINAL_STATES | {TaskState.NEEDS_INPUT}


def test_open_reviews_wait_for_the_user():
    assert {r for r in ReviewState if r.is_open} == set(OPEN_REVIEWS) == {
        ReviewState.PENDING, ReviewState.CONFLICT}



def test_a_failure_is_a_task_that_failed_or_ran_out_of_time_not_one_cancelled():
    assert {s for s in TaskState if s.is_failure} == {TaskState.FAILED, TaskState.TIMED_OUT}
