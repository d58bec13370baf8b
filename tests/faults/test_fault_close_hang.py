"""Item 3: `agentdeck run` closing while its agents flood the store. Each close cancels
engine tasks that wait on writes while the writer thread completes them, then releases
the lease through that writer; before, the writer could die on the cancelled write
(InvalidStateError) and close hung with the lease held. The interleaving itself is forced
in tests/engine/store/test_store_writer.py; here real `agentdeck run`s close again and again
mid-flood (at ``--until``; SIGTERM is test_fault_sigterm.py), each ends, frees the lease,
and the next re-attaches: every line is stored once."""
from __future__ import annotations

import pytest

from tests.faults.harness import Agent, Deck

ROUNDS = 3
AGENTS = 3


@pytest.mark.slow
def test_agentdeck_run_closed_mid_flood_ends_and_frees_the_lease(deck: Deck):
    agents = [Agent(f"t{n}", lines=8000, every=40, pause=0.05) for n in range(AGENTS)]
    deck.submit(*agents)
    for round_ in range(ROUNDS):
        deck.cli("run", "--max-parallel", str(AGENTS), "--until", "+2s",
                 timeout=30).expect(0, "reached --until")
        assert deck.lease_pid() is None, f"round {round_}: the lease stayed held"
        assert deck.states() & {"running"}, "the flood ended before the closes did"
    deck.cli("run", "--max-parallel", str(AGENTS), timeout=120).expect(0, "queue empty: done")
    deck.check(*agents)
