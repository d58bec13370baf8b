"""Finding 14: an agent's own sandbox must not silently stop it inside ours.

The real Codex CLI, through a real engine on the confined local runtime, with bubblewrap on
the PATH and its home where pytest puts it (under /tmp, where Codex's own sandbox refuses to
set up): its command must run and change the working copy, and the log must say that its
own sandbox is off because agentdeck's replaces it. A run that does nothing is flagged, and
a failed command shows as failed.
"""
from __future__ import annotations

import json
import shutil

import pytest

from agentdeck.engine.agents.registry import adapter_for
from agentdeck.engine.models import EntryKind, Stream, TaskState
from agentdeck.engine.config.profiles import builtin_profiles
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call
from tests.integration.test_real_cli_agents import _cli

KEY = "sk-test-codex-sandbox-0099"


@pytest.fixture
def codex_env(tmp_path, monkeypatch, llm_server: LLMServer) -> LLMServer:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is installed by make test (scripts/system-deps.sh)")
    _cli("codex")
    home = tmp_path / "user-home"
    (home / ".codex").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    return llm_server


async def _run(tmp_path, prompt: str):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "agentdeck")
    try:
        task = await engine.submit(repo, prompt, agent="codex", runtime="local")
        done = await wait_done(engine, task.id, timeout=90)
        entries = await engine.get_logs(task.id, limit=None)
        patch = await engine.get_patch(task.id) if done.files_changed else ""
    finally:
        await engine.close()
    return done, entries, patch


async def test_codex_commands_run_inside_our_sandbox_with_a_home_under_tmp(tmp_path, codex_env):
    assert str(tmp_path).startswith("/tmp/")  # where Codex's own sandbox refuses to work
    codex_env.enqueue(reply("", tool_call("exec_command", {"cmd": "printf 'ran\\n' > ran.txt"})),
                      reply("Done."))
    done, entries, patch = await _run(tmp_path, "create ran.txt")
    texts = [e.text for e in entries]
    assert done.state == TaskState.SUCCEEDED, texts[-15:]
    assert "+ran" in patch
    assert any("its own command sandbox is off (danger-full-access)" in t for t in texts)
    assert any(t.startswith("sandbox: bubblewrap") for t in texts)
    assert not any("ran no command" in t for t in texts)


async def test_a_run_that_does_nothing_says_so(tmp_path, codex_env):
    codex_env.enqueue(reply("All done, nothing to change."))
    done, entries, _ = await _run(tmp_path, "do nothing")
    assert done.state == TaskState.SUCCEEDED and done.files_changed == 0
    warnings = [e for e in entries if "ran no command and changed no file" in e.text]
    assert warnings and warnings[0].kind is EntryKind.ERROR


@pytest.mark.parametrize("item, words", [
    ({"exit_code": 2, "status": "failed"}, "[exit 2]"),
    ({"exit_code": None, "status": "declined"}, "[declined]"),
])
def test_a_failed_or_declined_command_shows_as_failed(item, words):
    adapter = adapter_for(builtin_profiles()["codex"])
    line = json.dumps({"type": "item.completed", "item": {
        "type": "command_execution", "command": "rm -rf /", "aggregated_output": "", **item}})
    entry = adapter.parse(Stream.STDOUT, line)
    assert entry.kind is EntryKind.COMMAND and entry.data["failed"] is True
    assert entry.text.startswith("failed: $ rm -rf /") and words in entry.text
    ok = adapter.parse(Stream.STDOUT, line.replace('"exit_code": 2', '"exit_code": 0')
                       .replace('"failed"', '"completed"'))
    assert item["status"] == "declined" or ok.data["failed"] is False
