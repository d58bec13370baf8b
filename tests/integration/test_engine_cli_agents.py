"""The real Claude Code and Codex CLIs run THROUGH agentdeck (engine, local runtime,
adapters, store), against the scripted LLM server on 127.0.0.1."""
from __future__ import annotations

import pytest

from agentdeck.engine.models import EntryKind, ReviewState, TaskState
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call
from tests.integration.test_real_cli_agents import _answers_tool, _cli, _offers

KEY = "sk-test-cli-secret-0042"


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """The CLIs get a HOME of their own (their settings and sessions live there)."""
    home = tmp_path / "user-home"
    (home / ".codex").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


async def test_claude_code_through_agentdeck(tmp_path, cli_home, llm_server: LLMServer,
                                             monkeypatch):
    _cli("claude")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "agentdeck"
    submitter = await open_engine(home, drive_queue=False)
    task = await submitter.submit(repo, "create hello.txt", agent="claude")
    await submitter.close()
    target = home / "work" / task.id / "hello.txt"  # the task's working copy
    llm_server.enqueue(reply("Writing it.", tool_call("Write", {"file_path": str(target),
                                                                "content": "hello\n"}),
                             input_tokens=120, output_tokens=40), when=_offers("Write"))
    llm_server.enqueue(reply("Done.", input_tokens=150, output_tokens=10), when=_answers_tool)

    engine = await open_engine(home)
    try:
        done = await wait_done(engine, task.id, timeout=90)
        entries = await engine.get_logs(task.id, limit=None)
        assert done.state == TaskState.SUCCEEDED, [e.text for e in entries][-20:]
        assert done.review == ReviewState.PENDING
        assert "+hello" in await engine.get_patch(task.id)
        assert done.session_id and (done.tokens_in, done.tokens_out) == (270, 50)
        assert done.cost_usd > 0
        kinds = {e.kind for e in entries}
        assert {EntryKind.MESSAGE, EntryKind.FILE_EDIT, EntryKind.TOOL_RESULT,
                EntryKind.USAGE} <= kinds
        assert KEY not in repr([(e.text, e.data) for e in entries])
    finally:
        await engine.close()


async def test_codex_through_agentdeck(tmp_path, cli_home, llm_server: LLMServer, monkeypatch):
    _cli("codex")
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(
        reply("", tool_call("exec_command", {"cmd": "printf 'hello\\n' > hello.txt"}),
              input_tokens=300, output_tokens=20),
        reply("Done: wrote hello.txt", input_tokens=350, output_tokens=15))
    engine = await open_engine(tmp_path / "agentdeck")
    try:
        task = await engine.submit(repo, "create hello.txt", agent="codex")
        done = await wait_done(engine, task.id, timeout=90)
        entries = await engine.get_logs(task.id, limit=None)
        assert done.state == TaskState.SUCCEEDED, [e.text for e in entries][-20:]
        assert "+hello" in await engine.get_patch(task.id)
        assert done.session_id and (done.tokens_in, done.tokens_out) == (650, 35)
        commands = [e for e in entries if e.kind == EntryKind.COMMAND]
        assert any("hello.txt" in (e.data or {}).get("command", "") for e in commands)
    finally:
        await engine.close()
