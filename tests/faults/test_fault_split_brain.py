"""Item 5: split brain. The driving `agentdeck run` is stopped (SIGSTOP) until its lease
expires, a second `agentdeck run` takes over and re-attaches to the running agent, then
the first resumes (SIGCONT): it stops driving at once and writes nothing. The task's log
has every line once, its attempt ends once."""
from __future__ import annotations

import pytest

from agentdeck.engine.core.lease import LEASE_TTL
from tests.faults.harness import Agent, Deck


@pytest.mark.slow
def test_a_holder_that_stalls_past_its_lease_stops_driving_when_it_resumes(deck: Deck):
    agent = Agent("t", lines=1500, every=15, pause=0.1, gate_at=100, gate="stalled")
    [task] = deck.submit(agent)
    stalled = deck.start("run")
    deck.wait_signal("t.at-stalled", 1, stalled)
    deck.wait(lambda: deck.state(task) == "running", "the task to be stored running", stalled)
    stalled.stop()
    deck.open_gate("stalled")  # the agent goes on printing, nobody stores it
    deck.wait(lambda: deck.lease_pid() is None, "the stalled holder's lease to expire",
              timeout=LEASE_TTL * 2)
    holder = deck.start("run")
    deck.wait(lambda: deck.lease_pid() == holder.pid, "the new holder to take the lease", holder)
    deck.wait(lambda: len(deck.lines(task)) > 150, "the new holder to store the agent's lines",
              holder)
    stalled.cont()
    resumed = stalled.wait()
    holder.wait(timeout=120).expect(0, "queue empty: done")
    deck.check(agent)
    log = deck.lines(task)
    assert sum("attempt 1 ended" in line for line in log) == 1, log[-5:]
    resumed.expect(0, "lost the queue", "queue empty: done")
