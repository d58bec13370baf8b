"""The review inbox model: only waiting tasks, in the engine's inbox order, kept up to
date from snapshots; it passes Qt's model tester."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.review.inbox import Inbox
from agentdeck.desktop.review.qt_inbox_model import InboxModel
from agentdeck.engine.models import Overlap, ReviewState, TaskState
from tests.desktop.appkit import snapshot


def _waiting(task_id: str, finished: float, batch: str | None = None, **fields):
    values = {"state": TaskState.SUCCEEDED, "review": ReviewState.PENDING, **fields}
    return snapshot(task_id, finished_at=finished, batch_id=batch, **values)


def test_only_waiting_tasks_in_inbox_order(qapp, qtmodeltester) -> None:
    model = InboxModel()
    model.reset([_waiting("c", 30, "b1"), _waiting("a", 10, "b2"), _waiting("b", 20, "b1"),
                 _waiting("d", 5), snapshot("q")])
    qtmodeltester.check(model)
    assert model.ids() == ["d", "a", "b", "c"]
    model.set_order("batch")
    assert model.ids() == ["a", "b", "c", "d"]  # b2 waited longest, then b1, no batch last
    model.upsert([_waiting("a", 10, "b2", review=ReviewState.REJECTED),
                  _waiting("e", 1, "b1", state=TaskState.RUNNING)])
    assert model.ids() == ["b", "c", "d"]  # rejected left; a running one does not wait
    model.upsert([_waiting("b", 20, "b1", title="renamed")])
    assert model.task_at(0).title == "renamed"
    qtmodeltester.check(model)


def test_step_wraps_and_continues_where_a_settled_task_was(qapp) -> None:
    inbox = Inbox()
    inbox.model.reset([_waiting(name, n + 1) for n, name in enumerate("abc")])
    chosen: list[str] = []
    inbox.chosen.connect(lambda task: chosen.append(task.id))
    assert inbox.step(1).id == "a" and inbox.step(1).id == "b"
    inbox.model.upsert([_waiting("b", 1, review=ReviewState.ACCEPTED)])
    assert inbox.shown_id == "b" and inbox.view.selectionModel().selectedRows() == []
    assert inbox.step(1).id == "c"  # the task after the accepted one
    assert inbox.step(1).id == "a"  # past the end: the first again
    assert inbox.step(-1).id == "c"
    assert chosen == ["a", "b", "c", "a", "c"]
    inbox.model.reset([])
    assert inbox.step(1) is None and inbox.count.text() == "Nothing waits for review"


def test_overlaps_mark_rows_and_announce_only_changed_ones(qapp, qtmodeltester) -> None:
    model = InboxModel()
    model.reset([_waiting("a", 1), _waiting("b", 2), _waiting("c", 3, title="<b>c</b>")])
    changed: list[int] = []
    model.dataChanged.connect(lambda top, bottom, *_: changed.append(top.row()))
    overlaps = {"a": (Overlap("c", ("x.py",)),), "c": (Overlap("a", ("x.py",)),)}
    model.set_overlaps(overlaps)
    model.set_overlaps(dict(overlaps))
    assert changed == [0, 2]
    assert model.index(0).data().endswith(" · ⚠ 1") and "⚠" not in model.index(1).data()
    tip = model.index(2).data(Qt.ItemDataRole.ToolTipRole)
    assert "a: x.py" in tip and "&lt;b&gt;c&lt;/b&gt;" in tip  # plain text, not markup
    qtmodeltester.check(model)
