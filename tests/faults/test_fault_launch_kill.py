"""Item 2: kill -9 of `agentdeck run` in the launch window of the local runtime: after the
agents started, before RUNNING and their sandboxes were stored. The next `agentdeck run`
finds the agents and re-attaches: every task ends with its whole output, in the working
copy the agent left (not rebuilt under it), each agent ran once, nothing is left running."""
from __future__ import annotations

import pytest

from tests.faults.harness import Agent, Deck

TASKS = 4


def _agent(n: int, deck: Deck) -> Agent:
    return Agent(f"t{n}", lines=100, gate_at=50,
                 before=f"echo run >> {deck.signals}/runs-{n}; echo before-the-kill > started.txt",
                 after=f"echo {n} > result.txt")


@pytest.mark.slow
def test_an_engine_killed_in_the_launch_window_loses_no_task(deck: Deck):
    # Each setup says it runs and waits for `locked`: then every task is stored as
    # preparing, and the test holds the write lock before any agent can start.
    deck.add_profile("gated", setup=f"mktemp -p {deck.signals} setup.XXXXXX >/dev/null; "
                                    f"while [ ! -e {deck.signals}/locked ]; do sleep 0.02; done")
    agents = [_agent(n, deck) for n in range(TASKS)]
    deck.submit(*agents, profile="gated")
    run = deck.start("run", "--max-parallel", str(TASKS))
    deck.wait_signal("setup.*", TASKS, run)
    with deck.write_locked() as db:
        deck.open_gate("locked")
        deck.wait_signal("t*.at-go", TASKS, run)  # every agent runs, half its lines out
        run.kill9()
        states = {state for (state,) in db.execute("SELECT state FROM tasks")}
        assert states == {"preparing"}, "killed outside the launch window"
    assert run.wait().code == -9
    assert len(deck.leftovers()) >= TASKS, "the agents live on after the kill"

    again = deck.start("run", "--max-parallel", str(TASKS))
    # The agents go on only once the new engine has dealt with every task.
    deck.wait(lambda: deck.states() <= {"running", "succeeded", "failed"},
              "the new engine to take up every task", again)
    deck.open_gate("go")
    again.wait().expect(0, "queue empty: done")
    deck.check(*agents)
    for n, agent in enumerate(agents):
        patch = deck.cli("diff", "--raw", deck.ids[agent.tag]).expect(0).out
        assert "+before-the-kill" in patch, "the working copy was rebuilt under the agent"
        assert f"+{n}" in patch
        assert (deck.signals / f"runs-{n}").read_text() == "run\n", "the agent ran again"
