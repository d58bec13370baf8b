"""Item 6: the migration race on a fresh data dir. Two `agentdeck` processes that start
together on a home with no database both make or find the schema and do their work
(before, one died with 'database is locked' or 'table tasks already exists')."""
from __future__ import annotations

import pytest

from tests.faults.harness import Deck

ROUNDS = 4


@pytest.mark.slow
def test_two_processes_starting_on_a_fresh_home_at_once_both_succeed(tmp_path):
    for round_ in range(ROUNDS):
        deck = Deck(tmp_path / f"round{round_}")
        try:
            run, listing = deck.start_together(("run",), ("list",))
            run.wait().expect(0, "queue empty: done")
            listing.wait().expect(0, "STATE")
            deck.check()
        finally:
            deck.close()
