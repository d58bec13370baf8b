"""Item 8: SIGTERM is a clean shutdown of the `agentdeck` command line. `run` stops as at
``--until`` (exit 0, lease released, agents keep running for the next holder); any other
command ends with 143 and one line."""
from __future__ import annotations

import pytest

from tests.faults.harness import Agent, Deck


@pytest.mark.slow
def test_sigterm_stops_agentdeck_run_cleanly(deck: Deck):
    agent = Agent("t", lines=40, gate_at=20)
    [task] = deck.submit(agent)
    run = deck.start("run")
    deck.wait_signal("t.at-go", 1, run)
    deck.wait(lambda: deck.state(task) == "running", "the task to be stored running", run)
    run.term()
    run.wait().expect(0, "terminated: stopping (running agents keep running)")
    assert deck.lease_pid() is None, "the lease is released"
    assert deck.state(task) == "running"
    assert [p.pid for p in deck.leftovers()], "the agent keeps running"

    deck.open_gate("go")
    deck.cli("run").expect(0, "queue empty: done")  # re-attaches to the agent
    deck.check(agent)


@pytest.mark.slow
def test_sigterm_interrupts_another_command_without_a_traceback(deck: Deck):
    agent = Agent("t", lines=10, gate_at=5)
    deck.submit(agent)
    run = deck.start("run")
    deck.wait_signal("t.at-go", 1, run)
    follow = deck.start("logs", "--follow", deck.ids["t"])
    deck.wait(lambda: follow.printed("t line 5"), "`logs --follow` to print", follow)
    follow.term()
    ended = follow.wait().expect(143)
    assert ended.err == "agentdeck: terminated\n"
    deck.open_gate("go")
    run.wait().expect(0, "queue empty: done")
    deck.check(agent)
