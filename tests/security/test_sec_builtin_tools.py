"""The built-in agent's tool commands on the local runtime run confined, like a CLI agent.

The agent loop lives in the engine (it holds the API key), so nothing but the commands the
model asks for must run on the host, and those inside bubblewrap: a model told to read a
root-only file, write outside its working copy or leave a process behind gets nowhere.
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import builtin_home, make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

KEY = "sk-test-builtin-sandbox-4242"


def _home(tmp_path: Path, server: LLMServer, monkeypatch: pytest.MonkeyPatch,
          profile_extra: str = "") -> Path:
    monkeypatch.setenv("FAKE_LLM_KEY", KEY)
    return builtin_home(tmp_path / "home", server.base_url, "gpt-4.1", profile_extra)


async def _run(home: Path, repo: Path, server: LLMServer, command: str) -> str:
    """Run one built-in task whose model asks for ``command``; the task's log text."""
    server.enqueue(reply("", tool_call("run", {"command": command})),
                   reply("", tool_call("finish", {"summary": "done"})))
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, "do it", agent="bot")
        done = await wait_done(engine, task.id)
        assert done.state == TaskState.SUCCEEDED, done.error
        return "\n".join(e.text for e in await engine.get_logs(task.id, limit=None))
    finally:
        await engine.close()


def _attack(outside: Path) -> str:
    return (f"echo ran-in-sandbox > proof.txt; head -c 40 /etc/shadow > shadow.txt; "
            f"echo pwned > {outside}/marker; ls {outside} > listing.txt; "
            f"(setsid sh -c 'sleep 1; echo late > {outside}/late' &) ; echo end")


async def test_tool_commands_cannot_read_root_files_write_outside_or_outlive_the_task(
        tmp_path, llm_server, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo(tmp_path / "repo")
    log = await _run(_home(tmp_path, llm_server, monkeypatch), repo, llm_server,
                     _attack(outside))
    assert "sandbox: bubblewrap for every tool command" in log
    work = next((tmp_path / "home" / "work").iterdir())
    assert (work / "proof.txt").read_text() == "ran-in-sandbox\n"   # the command did run
    assert (work / "shadow.txt").read_bytes() == b""                # root-only file covered
    assert not (outside / "marker").exists()                        # no write outside
    assert not (work / "listing.txt").read_text().strip()           # outside is not there
    await asyncio.sleep(2)
    assert not (outside / "late").exists()                          # nothing outlived it


async def test_the_explicit_opt_out_runs_tools_unconfined_and_says_so(
        tmp_path, llm_server, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo(tmp_path / "repo")
    home = _home(tmp_path, llm_server, monkeypatch, profile_extra='sandbox = "none"\n')
    log = await _run(home, repo, llm_server, f"echo pwned > {outside}/marker")
    assert 'sandbox: none (the profile sets sandbox = "none")' in log
    assert (outside / "marker").read_text() == "pwned\n"
