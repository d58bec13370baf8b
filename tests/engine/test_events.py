"""The event bus: callbacks, bounded queues that coalesce instead of blocking."""
from __future__ import annotations

import asyncio

from engine.events import EventBus, Lagged, LogAppended, Notice


def test_callbacks_receive_events_and_can_unsubscribe():
    bus = EventBus()
    seen = []
    unsubscribe = bus.subscribe(seen.append)
    bus.publish(Notice("info", "one"))
    unsubscribe()
    bus.publish(Notice("info", "two"))
    assert [e.message for e in seen] == ["one"]


def test_a_failing_callback_does_not_stop_others():
    bus = EventBus()
    seen = []
    bus.subscribe(lambda e: 1 / 0)
    bus.subscribe(seen.append)
    bus.publish(Notice("info", "x"))
    assert len(seen) == 1


def test_a_slow_queue_subscriber_drops_log_batches_and_is_told():
    async def scenario():
        bus = EventBus()
        sub = bus.listen(maxsize=3)
        for i in range(5):
            bus.publish(LogAppended(f"t{i}", ()))
        bus.publish(Notice("info", "kept"))
        first = await sub.get()
        rest = [await sub.get() for _ in range(3)]
        return first, rest

    first, rest = asyncio.run(scenario())
    assert first == Lagged(dropped=3)
    assert [getattr(e, "task_id", None) for e in rest[:2]] == ["t3", "t4"]
    assert rest[2] == Notice("info", "kept")
