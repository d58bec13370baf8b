"""What happens between the working copy and the agent: local files copied in, setup script.

A profile may name untracked files of the user's repo (``copy_files``: ``.env``, local
config) that the agent needs but that must never become part of its change: they are
copied into the working copy when an attempt starts and removed before the diff is taken.
A profile may also name a ``setup`` script (installing dependencies, say) that runs in the
sandbox before the agent, with network, whatever the agent's own network policy.
"""
from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import replace
from pathlib import Path, PurePosixPath

from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.base import LaunchSpec, Outcome, Runtime, Sink
from agentdeck.engine.workspace import safefs

DEFAULT_SETUP_TIMEOUT = 600.0


def copy_local_files(repo: Path, workdir: Path, paths: tuple[str, ...],
                     tracked: set[str]) -> list[str]:
    """Copy the listed files from the user's repo into the working copy.

    Both sides are opened one no-follow component at a time, so a link the agent (or an
    earlier attempt) planted in the copy can neither redirect the write out of it nor
    make it read anything but the user's own file.

    Returns one line per file saying what happened. A path that is absolute, leaves the
    repo, is or passes through a symlink on either side, is tracked by git (it is part of
    the change then) or is missing is skipped with the reason, and nothing is written.
    """
    report = []
    for name in paths:
        problem = _copy_one(repo, workdir, name, tracked)
        if problem:
            report.append(f"not copied: {name} ({problem})")
        else:
            report.append(f"copied {name} from the repository (kept out of the diff)")
    return report


def _copy_one(repo: Path, workdir: Path, name: str, tracked: set[str]) -> str | None:
    """Copy one file; the reason when it was not copied."""
    problem = _lexical_problem(name, tracked)
    if problem:
        return problem
    try:
        data = _read_source(repo, name)
    except (OSError, safefs.UnsafePath) as exc:
        return _source_problem(exc)
    return _write_target(workdir, name, data)


def _lexical_problem(name: str, tracked: set[str]) -> str | None:
    path = PurePosixPath(name)
    if (path.is_absolute() or not path.parts or any(p in ("..", ".") for p in name.split("/"))
            or ".git" in path.parts or "" in name.split("/")):
        return "only plain paths inside the repository can be copied"
    if name in tracked:
        return "tracked by git: it is part of the repository already"
    return None


def _source_problem(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file in the repository"
    if isinstance(exc, safefs.UnsafePath):
        return "a symlink, or in a folder reached through one, or not a regular file"
    return f"cannot read it: {exc.strerror or exc}"


def _read_source(repo: Path, name: str) -> bytes:
    parent, _, leaf = name.rpartition("/")
    with safefs.opened(safefs.open_dir(os.fspath(repo))) as repo_fd, \
            safefs.opened(safefs.open_parts(repo_fd, parent.split("/") if parent else [])) as fd, \
            safefs.opened(safefs.open_file(leaf, fd)) as file_fd:
        return safefs.read_all(file_fd, os.fstat(file_fd).st_size)


def _write_target(workdir: Path, name: str, data: bytes) -> str | None:
    """Write ``data`` at ``name`` in the copy; the reason when the copy's tree is in the way."""
    parent, _, leaf = name.rpartition("/")
    try:
        with safefs.opened(safefs.open_dir(os.fspath(workdir))) as root_fd, \
                safefs.opened(safefs.open_parts(root_fd, parent.split("/") if parent else [],
                                                create=True)) as fd:
            existing = safefs.lstat_at(fd, leaf)
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                return "the working copy has a symlink or a folder at that path"
            safefs.write_new(fd, leaf, data)
    except safefs.UnsafePath:
        return "a folder on its way in the working copy is a symlink or a file"
    return None


def remove_local_files(workdir: Path, paths: tuple[str, ...]) -> None:
    """Take the copied files out again before the diff (whatever the agent did to them).

    Only a regular file reached through real folders of the copy is removed; a link the
    agent put there, or anything behind one, is left alone (and shows in the change).
    """
    with safefs.opened(safefs.open_dir(os.fspath(workdir))) as root_fd:
        for name in paths:
            if _lexical_problem(name, set()):
                continue
            parent, _, leaf = name.rpartition("/")
            try:
                with safefs.opened(safefs.open_parts(
                        root_fd, parent.split("/") if parent else [])) as fd:
                    existing = safefs.lstat_at(fd, leaf)
                    if existing is not None and stat.S_ISREG(existing.st_mode):
                        os.unlink(leaf, dir_fd=fd)
            except (FileNotFoundError, safefs.UnsafePath):
                continue


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
