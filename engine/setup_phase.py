"""What happens between the working copy and the agent: local files copied in, setup script.

A profile may name untracked files of the user's repo (``copy_files``: ``.env``, local
config) that the agent needs but that must never become part of its change: they are
copied into the working copy when an attempt starts and removed before the diff is taken.
A profile may also name a ``setup`` script (installing dependencies, say) that runs in the
sandbox before the agent, with network, whatever the agent's own network policy.
"""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path, PurePosixPath

from engine.models import AgentProfile
from engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sink

DEFAULT_SETUP_TIMEOUT = 600.0


def copy_local_files(repo: Path, workdir: Path, paths: tuple[str, ...],
                     tracked: set[str]) -> list[str]:
    """Copy the listed files from the user's repo into the working copy.

    Returns one line per file saying what happened. A path that is absolute, leaves the
    repo, is a symlink, is tracked by git (it is part of the change then) or is missing
    is skipped with the reason.
    """
    report = []
    for name in paths:
        problem = _problem(repo, name, tracked)
        if problem:
            report.append(f"not copied: {name} ({problem})")
            continue
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo / name, target)
        report.append(f"copied {name} from the repository (kept out of the diff)")
    return report


def _problem(repo: Path, name: str, tracked: set[str]) -> str | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or ".git" in path.parts:
        return "only plain paths inside the repository can be copied"
    source = repo / name
    if source.is_symlink():
        return "a symlink"
    if not source.is_file():
        return "no such file in the repository"
    if name in tracked:
        return "tracked by git: it is part of the repository already"
    return None


def remove_local_files(workdir: Path, paths: tuple[str, ...]) -> None:
    """Take the copied files out again before the diff (whatever the agent did to them)."""
    for name in paths:
        target = workdir / name
        if target.is_symlink() or target.is_file():
            target.unlink()


async def run_setup(runtime: Runtime, spec: LaunchSpec, sink: Sink) -> Outcome:
    """Run the profile's setup script in the sandbox, with network; wait for it to end."""
    profile: AgentProfile = spec.profile
    # Full network (no egress allowlist): installing dependencies needs the registries.
    open_net = replace(profile, network=True,
                       options={k: v for k, v in profile.options.items() if k != "egress"})
    setup_spec = replace(spec, argv=("sh", "-c", profile.setup or ""), profile=open_net,
                         run_dir=spec.run_dir / "setup" if spec.run_dir else None)
    sandbox = await runtime.start(setup_spec, sink)
    timeout = float(profile.options.get("setup_timeout", DEFAULT_SETUP_TIMEOUT))
    waiter = asyncio.ensure_future(sandbox.wait())
    done, _ = await asyncio.wait({waiter}, timeout=timeout)
    if not done:
        await sandbox.stop(5.0)
        await waiter
        outcome = Outcome(exit_code=None, reason=f"the setup script timed out after {timeout:g} s")
    else:
        outcome = waiter.result()
    await sandbox.collect()  # what it installed goes on to the agent's sandbox
    await sandbox.cleanup()
    return outcome
