"""The bridge turns bus events into one coalesced batch of Qt signals per frame."""
from __future__ import annotations

from agentdeck.engine.events import EventBus, LogAppended, Notice, TaskUpdated
from agentdeck.engine.models import EntryKind, LogEntry, Stream

from agentdeck.desktop.bridge import Bridge
from tests.desktop.appkit import running, snapshot
def _entries(task_id: str, first: int, count: int) -> tuple[LogEntry, ...]:
    return tuple(LogEntry(task_id, seq, 0.0, 1, Stream.STDOUT, EntryKind.RAW, f"line {seq}")
                 for seq in range(first, first + count))


def test_one_flush_carries_the_latest_snapshot_per_task_and_all_log_lines(qtbot):
    bus = EventBus()
    bridge = Bridge(bus)
    tasks, logs = [], []
    bridge.tasks_changed.connect(tasks.append)
    bridge.logs_appended.connect(logs.append)
    bus.publish(TaskUpdated(snapshot("a")))
    for first in (1, 4, 7):
        bus.publish(LogAppended("a", _entries("a", first, 3)))
    bus.publish(TaskUpdated(running("a")))
    bus.publish(TaskUpdated(snapshot("b")))
    bus.publish(LogAppended("b", _entries("b", 1, 2)))
    assert tasks == [] and logs == []  # nothing before the frame timer fires
    qtbot.waitUntil(lambda: bool(tasks))
    assert len(tasks) == 1
    assert {t.id: t.state.value for t in tasks[0]} == {"a": "running", "b": "queued"}
    assert len(logs) == 1
    assert [e.seq for e in logs[0]["a"]] == list(range(1, 10))
    assert [e.seq for e in logs[0]["b"]] == [1, 2]
    bridge.close()


def test_notices_follow_the_snapshots(qtbot):
    bus = EventBus()
    bridge = Bridge(bus)
    order: list[str] = []
    bridge.tasks_changed.connect(lambda _t: order.append("tasks"))
    bridge.notice.connect(lambda level, message, task_id: order.append(f"{level}: {message} {task_id}"))
    bus.publish(Notice("warning", "docker went away", None))
    bus.publish(TaskUpdated(snapshot("a")))
    qtbot.waitUntil(lambda: len(order) == 2)
    assert order == ["tasks", "warning: docker went away None"]
    bridge.close()


def test_close_unsubscribes_and_drops_the_buffer(qtbot):
    bus = EventBus()
    bridge = Bridge(bus)
    seen: list = []
    bridge.tasks_changed.connect(seen.append)
    bus.publish(TaskUpdated(snapshot("a")))
    bridge.close()
    bus.publish(TaskUpdated(snapshot("b")))
    qtbot.wait(100)
    assert seen == []
