"""Item 7: the disk under the database fills up (a real 2 MiB tmpfs) while an agent
prints. `agentdeck run` says "disk full at <path>" and keeps running; once there is room
it says so, stores every line once and ends the task (before, the writer thread died: the
engine hung and later said "agent died")."""
from __future__ import annotations

import pytest

from tests.faults.harness import Agent, Deck
from tests.smalldisk import fill


@pytest.mark.slow
def test_a_full_disk_is_reported_and_no_line_is_lost_once_there_is_room(deck: Deck, small_disk):
    (small_disk / "agentdeck.sqlite3").touch(mode=0o600)
    database = deck.home / "agentdeck.sqlite3"
    database.symlink_to(small_disk / "agentdeck.sqlite3")
    agent = Agent("t", lines=3300, gate_at=300, pad=200)
    [task] = deck.submit(agent)
    run = deck.start("run")
    deck.wait_signal("t.at-go", 1, run)
    deck.wait(lambda: len(agent.numbers(deck.lines(task))) == 300, "the first lines stored", run)
    filler = fill(small_disk)
    deck.open_gate("go")
    deck.wait(lambda: run.printed(f"error: disk full at {database}"), "the disk-full notice", run)
    assert deck.state(task) == "running"

    filler.unlink()
    run.wait().expect(0, "can be written again", "queue empty: done")
    deck.check(agent)
