"""The real Claude Code, Codex, Aider and Gemini CLIs run THROUGH agentdeck (engine, local
runtime with its sandbox and egress proxy, adapters, store), against the scripted LLM
server on 127.0.0.1: each writes a file that shows in the task's diff, and its log entries,
tokens and cost land on the task."""
from __future__ import annotations

import pytest

from agentdeck.engine.models import EntryKind, ReviewState, TaskState
from tests.engine.enginekit import make_repo, open_engine, wait_done
from tests.fakes.llm_server import LLMServer
from tests.fakes.scripts import reply, tool_call
from tests.integration.test_real_cli_agents import _answers_tool, _cli, _offers, gemini_env

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


async def test_aider_through_agentdeck(tmp_path, cli_home, llm_server: LLMServer, monkeypatch):
    _cli("aider")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    home = tmp_path / "agentdeck"
    home.mkdir()
    (home / "agents.toml").write_text(AIDER_PROFILE.format(
        target=llm_server.url.removeprefix("http://"), base=llm_server.base_url))
    repo = make_repo(tmp_path / "repo")
    llm_server.enqueue(reply("hello.txt\n```\nhello\n```\n", input_tokens=2500,
                             output_tokens=120))
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, "create hello.txt", agent="aider")
        done = await wait_done(engine, task.id, timeout=120)
        entries = await engine.get_logs(task.id, limit=None)
        assert done.state == TaskState.SUCCEEDED, [e.text for e in entries][-20:]
        patch = await engine.get_patch(task.id)
        assert "+hello" in patch and ".aider" not in patch
        edits = [e for e in entries if e.kind == EntryKind.FILE_EDIT]
        assert edits and edits[0].data["paths"] == ["hello.txt"]
        assert (done.tokens_in, done.tokens_out) == (2500, 120) and done.cost_usd > 0
        assert EntryKind.USAGE in {e.kind for e in entries}
        assert KEY not in repr([(e.text, e.data) for e in entries])
    finally:
        await engine.close()


#: The user's override: Aider on the scripted server, which the egress allowlist names.
AIDER_PROFILE = """
[profiles.aider.options]
egress = ["{target}"]
model = "openai/gpt-4o"
edit_format = "whole"
extra_args = ["--openai-api-base", "{base}", "--analytics-disable"]
"""


async def test_gemini_through_agentdeck(tmp_path, cli_home, llm_server: LLMServer,
                                        monkeypatch):
    _cli("gemini")
    env = gemini_env(llm_server, cli_home)  # ~/.gemini/settings.json: a home file of the profile
    for name in ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.setenv(name, KEY if name == "GEMINI_API_KEY" else env[name])
    home = tmp_path / "agentdeck"
    home.mkdir()
    (home / "agents.toml").write_text(GEMINI_PROFILE)
    repo = make_repo(tmp_path / "repo")
    submitter = await open_engine(home, drive_queue=False)
    task = await submitter.submit(repo, "create hello.txt", agent="gemini")
    await submitter.close()
    target = home / "work" / task.id / "hello.txt"  # the task's working copy
    llm_server.enqueue(
        reply("Writing it.", tool_call("write_file", {"file_path": str(target),
                                                      "content": "hello\n"}),
              input_tokens=200, output_tokens=40),
        reply("Done: wrote hello.txt", input_tokens=260, output_tokens=10))
    engine = await open_engine(home)
    try:
        done = await wait_done(engine, task.id, timeout=120)
        entries = await engine.get_logs(task.id, limit=None)
        assert done.state == TaskState.SUCCEEDED, [e.text for e in entries][-20:]
        assert "+hello" in await engine.get_patch(task.id)
        assert done.session_id and (done.tokens_in, done.tokens_out) == (460, 50)
        assert done.cost_usd == pytest.approx(460 * 1.25e-6 + 50 * 10e-6)
        kinds = {e.kind for e in entries}
        assert {EntryKind.SYSTEM, EntryKind.MESSAGE, EntryKind.FILE_EDIT,
                EntryKind.TOOL_RESULT, EntryKind.USAGE} <= kinds
        assert not [e for e in entries if e.kind == EntryKind.ERROR]
        assert KEY not in repr([(e.text, e.data) for e in entries])
    finally:
        await engine.close()


#: The user's override: a model (the default, "auto", asks a router model first).
GEMINI_PROFILE = """
[profiles.gemini.options]
egress = ["generativelanguage.googleapis.com:443"]
model = "gemini-2.5-pro"
"""
