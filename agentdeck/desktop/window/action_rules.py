"""When each task command can apply, from the tasks the focused view shows.

The toolbar, the menus and the keys share the window's QActions, so an action disabled
here is also a key that does nothing (rather than acting on a task the user cannot see).
"""
from __future__ import annotations

from collections.abc import Sequence

from agentdeck.engine.models import Task

#: The commands that act on the tasks of the focused view.
TASK_COMMANDS = ("accept", "reject", "cancel", "retry", "comment", "request_changes",
                 "approve", "freshen", "hand_back")


def enabled_commands(targets: Sequence[Task], *, in_review: bool) -> dict[str, bool]:
    """Which of `TASK_COMMANDS` apply to ``targets`` (the reviewed task in the Review
    view, the selected rows in Tasks, none on the Wall)."""
    reviewable = any(task.reviewable for task in targets)
    return {
        "accept": reviewable,
        "reject": reviewable,
        "cancel": any(task.state.is_unfinished for task in targets),
        "retry": any(task.can_retry for task in targets),
        "comment": in_review and reviewable,
        "request_changes": in_review and reviewable,
        # Approving (or taking the mark away) and freshening act on a change that waits.
        "approve": reviewable,
        "freshen": reviewable,
        "hand_back": reviewable,
    }
