"""Item 4: a second process takes over the queue. An `agentdeck run` started while another
drives waits; once the first exits, it takes the lease within one lease period and works
the rest of the queue, the task left running by the first included."""
from __future__ import annotations

import pytest

from agentdeck.engine.core.lease import LEASE_TTL
from tests.faults.harness import Agent, Deck


@pytest.mark.slow
def test_a_second_agentdeck_run_waits_and_takes_over(deck: Deck):
    gated, later = Agent("gated", lines=20, gate_at=10), Agent("later", lines=20)
    deck.submit(gated, later)
    first = deck.start("run", "--max-parallel", "1", "--until", "+5s")
    deck.wait_signal("gated.at-go", 1, first)
    second = deck.start("run", "--max-parallel", "1")
    deck.wait(lambda: second.printed("another agentdeck process runs the queue"),
              "the second to say it waits", second)
    first.wait().expect(0, "reached --until")
    assert deck.state(deck.ids["later"]) == "queued"
    deck.wait(lambda: deck.lease_pid() == second.pid, "the second to take the lease", second,
              timeout=LEASE_TTL)
    deck.open_gate("go")
    second.wait().expect(0, "queue empty: done")
    deck.check(gated, later)
