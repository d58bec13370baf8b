"""The repo's test command for the merge queue: which one, and one run of it.

The command comes from ``land --test``, else the task's agent profile (``test_command``),
else ``agentdeck.toml`` of the user's repo as committed at HEAD (``[test] command``):
the user's own files, never a copy the agent wrote. It runs with ``sh -c`` in a temporary
checkout of the candidate commit. That runs the change's code, so it runs confined like an
agent (`runtimes.local.confine`: the checkout writable, no network, no home, no engine
environment), unless the task's profile itself runs unconfined (``sandbox = "none"``).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.workspace import Workspace
from agentdeck.engine.runtimes.local.confine import confined

REPO_FILE = "agentdeck.toml"
#: Most bytes of a test run's output kept (its end: where failures are reported).
OUTPUT_CAP = 64 * 1024


@dataclass(frozen=True)
class SuiteRun:
    """One run of the test command: passed (exit 0), its exit code, output and time."""

    passed: bool
    exit_code: int
    output: str
    seconds: float


def profile_command(profile: Callable[[str], AgentProfile], agent: str) -> str | None:
    """The ``test_command`` of profile ``agent`` (``None``: none, or the profile is gone)."""
    try:
        return profile(agent).test_command
    except NotFound:
        return None


def runs_confined(profile: Callable[[str], AgentProfile], agent: str) -> bool:
    """Whether a task of profile ``agent`` has its tests run sandboxed: always, unless its
    profile (still there) runs the agent itself unconfined."""
    try:
        return profile(agent).sandbox != "none"
    except NotFound:
        return True


async def repo_command(workspace: Workspace, repo: str) -> str | None:
    """``[test] command`` of ``agentdeck.toml`` at the user's HEAD of ``repo`` (read in a
    thread; see `command_from_file`)."""
    return command_from_file(await asyncio.to_thread(workspace.read_at_head, repo, REPO_FILE))


def command_from_file(text: bytes | None) -> str | None:
    """``[test] command`` of an ``agentdeck.toml`` (``None``: no file or no command).

    Raises:
        InvalidInput: the file is not TOML or the command is not a non-empty string.
    """
    if text is None:
        return None
    try:
        data = tomllib.loads(text.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{REPO_FILE} at HEAD is not valid TOML: {exc}") from None
    test = data.get("test", {})
    command = test.get("command") if isinstance(test, dict) else None
    if command is None:
        return None
    if not isinstance(command, str) or not command.strip():
        raise InvalidInput(f"{REPO_FILE}: [test] command must be a non-empty string "
                           "(a shell line such as \"make test\")")
    return command


async def run_test(command: str, cwd: Path, *, confine: bool = True) -> SuiteRun:
    """Run ``command`` with ``sh -c`` in ``cwd`` (stdin closed, its own process group,
    killed with everything it started when the caller is cancelled).

    Args:
        confine: in a bubblewrap sandbox (see the module docstring); ``False`` only for a
            task whose profile runs its agent unconfined.

    Raises:
        RuntimeUnavailable: ``confine`` and bubblewrap cannot run here (names the fix).
    """
    scratch = Path(tempfile.mkdtemp(prefix="agentdeck-test-"))
    try:
        argv, env = ["sh", "-c", command], None
        if confine:
            argv, env = await asyncio.to_thread(confined, argv, cwd, scratch)
        return await _run(argv, env, cwd)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)


async def _run(argv: list[str], env: dict[str, str] | None, cwd: Path) -> SuiteRun:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True)
    try:
        output = await _read_capped(proc)
        code = await proc.wait()
    except BaseException:
        _kill_group(proc.pid)
        await proc.wait()
        raise
    _kill_group(proc.pid)  # what it left running in the background goes too
    return SuiteRun(code == 0, code, output, time.monotonic() - started)


async def _read_capped(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    kept = bytearray()
    while chunk := await proc.stdout.read(1 << 16):
        kept += chunk
        del kept[:-OUTPUT_CAP]
    return kept.decode(errors="replace")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
