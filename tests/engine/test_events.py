"""The event bus: callbacks, isolated from each other."""
from __future__ import annotations

from agentdeck.engine.events import EventBus, Notice


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
