"""The wall keeps one tile per running task and feeds each its own log tail."""
from __future__ import annotations

from PySide6.QtCore import Qt

from agentdeck.desktop.wall.wall import TAIL_LINES, Wall, tail_text
from agentdeck.engine.models import EntryKind, LogEntry, Stream, TaskState
from tests.desktop.appkit import running, snapshot
def _entry(task_id: str, seq: int, text: str) -> LogEntry:
    return LogEntry(task_id, seq, 0.0, 1, Stream.STDOUT, EntryKind.RAW, text)


def test_tiles_follow_running_tasks(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.resize(1100, 700)
    wall.show()
    wall.sync([running("a"), running("b"), snapshot("q")])
    assert sorted(wall.tiles()) == ["a", "b"]
    wall.sync([snapshot("a", state=TaskState.SUCCEEDED), running("c")])
    assert sorted(wall.tiles()) == ["b", "c"]
    assert not wall._empty.isVisible()
    wall.sync([snapshot("b", state=TaskState.FAILED), snapshot("c", state=TaskState.CANCELLED)])
    assert wall.tiles() == {}
    assert wall._empty.isVisible()


def test_logs_reach_only_their_tile_and_keep_the_tail(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.sync([running("a"), running("b")])
    wall.append_logs({"a": [_entry("a", i, f"a{i}") for i in range(1, 21)],
                      "z": [_entry("z", 1, "nobody")]})
    tiles = wall.tiles()
    assert tiles["a"].lines == [f"a{i}" for i in range(21 - TAIL_LINES, 21)]
    assert tiles["b"].lines == []


def test_clicking_a_tile_asks_to_open_its_task(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.resize(800, 600)
    wall.show()
    wall.sync([running("a")])
    with qtbot.waitSignal(wall.open_task) as blocker:
        qtbot.mouseClick(wall.tiles()["a"], Qt.MouseButton.LeftButton)
    assert blocker.args == ["a"]


def test_tiles_reflow_into_columns_by_width(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.sync([running(f"t{i}", started=1000.0 + i) for i in range(6)])
    wall.resize(1200, 700)
    wall.show()
    qtbot.waitUntil(lambda: wall._columns == 3)
    grid = wall._grid
    positions = {grid.itemAtPosition(r, c).widget().task.id
                 for r in range(2) for c in range(3)}
    assert positions == {f"t{i}" for i in range(6)}
    wall.resize(500, 700)
    qtbot.waitUntil(lambda: wall._columns == 1)


def test_tail_text_strips_escape_codes_and_keeps_the_last_line():
    entry = _entry("a", 1, "first\n\x1b[31merror:\x1b[0m\tbad\n")
    assert tail_text(entry) == "error:    bad"
