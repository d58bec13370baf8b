"""The wall keeps one tile per running task and feeds each its own log tail."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt

from PySide6.QtWidgets import QApplication

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


class _PaintCounter(QObject):
    """Counts paint events per watched widget."""

    def __init__(self) -> None:
        super().__init__()
        self.paints: dict[QObject, int] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints[watched] = self.paints.get(watched, 0) + 1
        return False


def test_busy_tiles_out_of_view_do_not_delay_those_in_view(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.resize(400, 260)  # one tile in view, the other 39 scrolled away
    wall.show()
    wall.sync([running(f"t{i:02}", started=1000.0 + i) for i in range(40)])
    qtbot.waitUntil(lambda: wall.tiles()["t00"].visibleRegion().isEmpty() is False)
    qtbot.wait(200)  # the first paints are done
    counter = _PaintCounter()
    for tile in wall.tiles().values():
        tile.installEventFilter(counter)
    shown = wall.tiles()["t00"]
    # The tile in view is the last to get lines: behind 39 dirty tiles out of view.
    wall.append_logs({f"t{i:02}": [_entry(f"t{i:02}", 1, "x")] for i in range(39, 0, -1)})
    wall.append_logs({"t00": [_entry("t00", 1, "in view")]})
    wall._repaint_some()  # one frame's worth (the frame timer would call it)
    QApplication.processEvents()
    assert counter.paints.get(shown, 0) > 0, "the tile in view waited behind tiles out of view"
    assert not wall._dirty
    assert all(count == 0 for tile, count in counter.paints.items() if tile is not shown)


def test_a_snapshot_that_changes_only_counters_keeps_the_card(qtbot):
    wall = Wall()
    qtbot.addWidget(wall)
    wall.resize(800, 400)
    wall.show()
    task = running("a")
    wall.sync([task])
    tile = wall.tiles()["a"]
    qtbot.waitUntil(lambda: tile._card is not None)
    card = tile._card.cacheKey()
    wall.sync([task.with_(tokens_out=1234, cost_usd=0.5)])
    qtbot.wait(50)
    assert tile._card is not None and tile._card.cacheKey() == card
    wall.sync([task.with_(state=TaskState.NEEDS_INPUT)])
    qtbot.waitUntil(lambda: tile._card is not None and tile._card.cacheKey() != card)
