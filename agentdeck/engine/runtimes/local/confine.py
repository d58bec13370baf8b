"""Confinement for a command agentdeck runs on an agent's change outside any attempt: the
merge queue's test command (`agentdeck land --test`).

That command runs the agent's code (its tests, its build files), so it gets the same walls
as a tool command of the built-in agent: a bubblewrap sandbox with the checkout read-write,
the system read-only with its private entries covered, an empty home, no network and an
environment holding no variable of the engine's (no API key reaches it).
"""
from __future__ import annotations

from pathlib import Path

from agentdeck.engine.runtimes.local import bwrap
from agentdeck.engine.runtimes.local.launch import agent_env, walls


def confined(argv: list[str], workdir: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``argv`` confined to ``workdir``
    (blocking: it probes bubblewrap and may scan system dirs).

    Args:
        argv: what to run inside.
        workdir: the only host dir it can write (bound at its own path, the cwd inside).
        scratch: a dir of agentdeck's own for the blank file and dir bound over private
            system entries (not ``workdir``: the command could replace them there).

    Raises:
        RuntimeUnavailable: bubblewrap is missing or cannot make namespaces (names the fix).
    """
    private = bwrap.PrivateEntries(bwrap.default_cache_file())
    found, covers, blank_file, blank_dir = walls(scratch, private)
    plan = bwrap.Plan(found, workdir, None, "none", (), covers, blank_file, blank_dir)
    env = {**agent_env({}), "HOME": bwrap.SANDBOX_HOME, "TMPDIR": "/tmp"}
    return [plan.bwrap, *plan.options(), "--", *plan.inner(), *argv], env
