"""The agent CLIs: on PATH, and the version each one reports."""
from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentdeck.engine.agents.cli_check import INSTALL, find_cli
from agentdeck.engine.doctor.checks import Check, ok, problem
from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.models import AgentProfile

GROUP = "agents"
#: Seconds a ``--version`` may take (the Gemini CLI needs several).
VERSION_TIMEOUT = 30.0


def check_clis(profiles: list[AgentProfile], needed: set[str], path: str | None) -> list[Check]:
    """One check per profile, in parallel (blocking: each runs ``PROGRAM --version``).

    Args:
        profiles: The profiles whose program to look for.
        needed: Names of the profiles whose program must be on this machine (they run on
            the local runtime and the user uses them); a missing one fails, others warn.
        path: The search path (default: ``$PATH``).
    """
    with ThreadPoolExecutor(max(1, len(profiles))) as pool:
        return list(pool.map(lambda p: _check_cli(p, p.name in needed, path), profiles))


def _check_cli(profile: AgentProfile, needed: bool, path: str | None) -> Check:
    name = f"{profile.name} ({profile.command[0]})"
    try:
        program = find_cli(profile, path)
    except RuntimeUnavailable:
        hint = INSTALL.get(profile.kind)
        fix = f"install it: {hint}" if hint else f"install {profile.command[0]} or fix the profile"
        if not needed:
            fix += " (only needed to run this profile on the local runtime)"
        return problem(GROUP, name, "not on PATH", fix, needed)
    if profile.kind not in INSTALL:  # a plain program (sh): no version worth asking
        return ok(GROUP, name, program)
    return ok(GROUP, name, f"{_package_version(program) or _version(program, path)} ({program})")


def _package_version(program: str) -> str | None:
    """The version in the npm package.json the program belongs to: read in a millisecond,
    where ``gemini --version`` takes seconds."""
    here = Path(os.path.realpath(program)).parent
    for folder in (here, *here.parents[:3]):
        try:
            package = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(package, dict) and package.get("version") and package.get("bin"):
            return f"{package.get('name', '?')} {package['version']}"
    return None


def _version(program: str, path: str | None) -> str:
    env = {**os.environ, "PATH": path} if path is not None else None
    try:
        done = subprocess.run([program, "--version"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, env=env, timeout=VERSION_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"version unknown ({type(exc).__name__})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0][:80] if done.returncode == 0 and lines else "version unknown"
