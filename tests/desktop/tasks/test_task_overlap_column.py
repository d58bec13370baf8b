"""The Overlap column of the task table model, fed with engine snapshots."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.tasks.qt_task_model import Column, SortRole, TaskTableModel
from agentdeck.engine.models import Overlap
from tests.desktop.appkit import snapshot


def test_overlaps_show_count_and_tooltip_and_announce_only_changed_rows(qtmodeltester):
    model = TaskTableModel()
    model.reset([snapshot("t1"), snapshot("t2"), snapshot("t3")])
    changed = []
    model.dataChanged.connect(lambda top, bottom, *_: changed.append((top.row(), top.column())))
    model.set_overlaps({"t1": (Overlap("t2", ("a.py", "b.py")),),
                        "t2": (Overlap("t1", ("a.py", "b.py")),)})
    assert sorted(changed) == [(0, Column.OVERLAP), (1, Column.OVERLAP)]
    cell = model.index(0, Column.OVERLAP)
    assert cell.data() == "⚠ 1" and cell.data(SortRole) == 1
    assert "t2: a.py, b.py" in cell.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(2, Column.OVERLAP).data() == ""
    changed.clear()
    model.set_overlaps({"t1": (Overlap("t2", ("a.py", "b.py")),),
                        "t2": (Overlap("t1", ("a.py", "b.py")),)})
    assert changed == []
    qtmodeltester.check(model)
