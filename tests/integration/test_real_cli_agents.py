"""The real ``claude``, ``codex``, ``aider`` and ``gemini`` CLIs, run against the scripted
LLM server.

Each test runs the CLI as a subprocess in a fresh git repo with its API base URL pointed
at `LLMServer` on 127.0.0.1, scripts the model to write a file, feeds the CLI's output
lines through our adapter and checks the structured entries and the file on disk. The
CLIs are installed by ``scripts/install-agent-clis.sh`` when missing; a test skips only
when that fails (no npm, registry unreachable) and says so, and fails instead under CI.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.registry import adapter_for
from agentdeck.engine.models import AgentProfile, EntryKind, ParsedEntry, Stream, Task
from agentdeck.engine.config.profiles import builtin_profiles
from tests.fakes.llm_server import LLMServer, Request
from tests.fakes.scripts import reply, tool_call

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 45


@dataclass
class Run:
    returncode: int
    entries: list[ParsedEntry]

    def of(self, kind: EntryKind) -> list[ParsedEntry]:
        return [e for e in self.entries if e.kind is kind]

    def fact(self, key: str) -> Any:
        """The last value of ``data[key]`` among the entries."""
        values = [e.data[key] for e in self.entries if e.data and key in e.data]
        assert values, f"no entry carries {key!r}: {[e.text for e in self.entries]}"
        return values[-1]


def _cli(program: str) -> str:
    """The path of ``program``, installed by scripts/install-agent-clis.sh if missing.

    Where that fails the test skips, saying why, except under CI (``CI=true``), where every
    agent CLI must be proven: there it fails.
    """
    if shutil.which(program) is None:
        subprocess.run(["sh", str(ROOT / "scripts" / "install-agent-clis.sh")], timeout=600)
    found = shutil.which(program)
    if found is None:
        why = f"the {program!r} CLI is not installed and install-agent-clis.sh could not install it"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI needs every agent CLI)")
        pytest.skip(why)
    return found


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=path, check=True)
    (path / "README.md").write_text("sample\n")
    subprocess.run(git + ["add", "README.md"], cwd=path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "init"], cwd=path, check=True)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME of its own, so the CLIs neither read nor write the user's settings."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def run_agent(adapter: AgentAdapter, task: Task, prompt: str, cwd: Path,
              env: dict[str, str]) -> Run:
    argv = adapter.argv(task, prompt)
    full_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **env}
    # stdin closed: codex exec reads a piped stdin to its end before starting.
    done = subprocess.run(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    entries = [adapter.parse(Stream.STDOUT, line) for line in done.stdout.splitlines()]
    entries += [adapter.parse(Stream.STDERR, line) for line in done.stderr.splitlines()]
    for line, parsed in zip(done.stdout.splitlines(), entries):
        assert parsed.text == line or (parsed.data or {}).get("raw") == line
    return Run(done.returncode, entries)


# ---- Claude Code ----------------------------------------------------------------------
def _offers(tool: str):
    def when(request: Request) -> bool:
        tools = (request.body or {}).get("tools") or []
        return any(isinstance(t, dict) and t.get("name") == tool for t in tools)
    return when


def _answers_tool(request: Request) -> bool:
    messages = (request.body or {}).get("messages") or []
    content = messages[-1].get("content") if messages else None
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _claude_env(server: LLMServer, home: Path) -> dict[str, str]:
    return {"HOME": str(home), "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-test",
            "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def test_claude_writes_a_file_and_reports_session_and_cost(server: LLMServer, repo: Path,
                                                           home: Path) -> None:
    _cli("claude")
    target = repo / "hello.txt"
    server.enqueue(reply("Writing it.", tool_call("Write", {"file_path": str(target),
                                                             "content": "hello\n"}),
                         input_tokens=120, output_tokens=40), when=_offers("Write"))
    server.enqueue(reply("Done: wrote hello.txt", input_tokens=150, output_tokens=10),
                   when=_answers_tool)
    adapter = adapter_for(builtin_profiles()["claude"])
    task = Task(id="t-claude", prompt="create hello.txt", repo=str(repo))

    run = run_agent(adapter, task, task.prompt, repo, _claude_env(server, home))

    assert run.returncode == 0, [e.text for e in run.entries]
    assert target.read_text() == "hello\n"
    session = run.of(EntryKind.SYSTEM)[0].data["session_id"]
    assert session and run.fact("session_id") == session
    edit = run.of(EntryKind.FILE_EDIT)[0]
    assert edit.data["tool"] == "Write" and edit.data["paths"] == [str(target)]
    assert "File created" in run.of(EntryKind.TOOL_RESULT)[0].text
    assert run.of(EntryKind.MESSAGE)[-1].text == "Done: wrote hello.txt"
    spent = run.of(EntryKind.USAGE)[-1].data["usage"]
    assert spent["input_tokens"] == 270 and spent["output_tokens"] == 50
    assert spent["cost_usd"] > 0
    assert not run.of(EntryKind.ERROR) and not run.of(EntryKind.QUESTION)

    # The follow-up resumes the same session: the model sees the earlier turns.
    server.enqueue(reply("It holds one line."))
    follow = task.with_(session_id=session, follow_up="what is in it?")
    again = run_agent(adapter_for(builtin_profiles()["claude"], follow), follow,
                      "what is in it?", repo, _claude_env(server, home))
    assert again.returncode == 0
    assert again.fact("session_id") == session
    history = json.dumps(server.llm_requests()[-1].body)
    assert "Writing it." in history and "what is in it?" in history


def test_claude_denied_write_becomes_a_question(server: LLMServer, repo: Path,
                                                home: Path) -> None:
    _cli("claude")
    target = repo / "secret.txt"
    server.enqueue(reply("", tool_call("Write", {"file_path": str(target), "content": "x"})),
                   when=_offers("Write"))
    server.enqueue(reply("I need permission to write."), when=_answers_tool)
    profile = _with_options(builtin_profiles()["claude"], permission_mode="manual")
    task = Task(id="t-deny", prompt="write secret.txt", repo=str(repo))

    run = run_agent(adapter_for(profile), task, task.prompt, repo, _claude_env(server, home))

    assert not target.exists()
    questions = run.of(EntryKind.QUESTION)
    assert questions and questions[0].data["tool"] == "Write"
    assert str(target) in run.fact("question")


# ---- Codex ----------------------------------------------------------------------------
def _codex_profile(server: LLMServer) -> AgentProfile:
    # No sandbox option: the adapter's default (workspace-write) must let Codex write.
    return _with_options(builtin_profiles()["codex"], base_url=server.base_url)


def _codex_env(home: Path) -> dict[str, str]:
    (home / ".codex").mkdir(exist_ok=True)
    return {"HOME": str(home), "CODEX_HOME": str(home / ".codex"), "OPENAI_API_KEY": "sk-test"}


def test_codex_runs_a_command_and_resumes_its_thread(server: LLMServer, repo: Path,
                                                     home: Path) -> None:
    _cli("codex")
    server.enqueue(reply("", tool_call("exec_command", {"cmd": "printf 'hello\\n' > hello.txt"}),
                         input_tokens=300, output_tokens=20),
                   reply("Done: wrote hello.txt", input_tokens=350, output_tokens=15))
    profile = _codex_profile(server)
    task = Task(id="t-codex", prompt="create hello.txt", repo=str(repo))

    run = run_agent(adapter_for(profile), task, task.prompt, repo, _codex_env(home))

    assert run.returncode == 0, [e.text for e in run.entries]
    assert (repo / "hello.txt").read_text() == "hello\n"
    thread = run.fact("session_id")
    finished = [e for e in run.of(EntryKind.COMMAND) if e.data.get("exit_code") is not None]
    assert finished and "hello.txt" in finished[0].data["command"]
    assert finished[0].data["exit_code"] == 0
    assert run.of(EntryKind.MESSAGE)[-1].text == "Done: wrote hello.txt"
    assert run.fact("usage") == {"input_tokens": 650, "output_tokens": 35, "cost_usd": 0.0}

    # Resumed, Codex reports the thread's running total; the adapter counts the new turn.
    server.enqueue(reply("Still there.", input_tokens=400, output_tokens=5))
    follow = task.with_(session_id=thread, follow_up="check it", tokens_in=650, tokens_out=35)
    again = run_agent(adapter_for(profile, follow), follow, "check it", repo, _codex_env(home))
    assert again.returncode == 0
    assert again.fact("session_id") == thread
    assert again.fact("usage") == {"input_tokens": 400, "output_tokens": 5, "cost_usd": 0.0}
    assert again.fact("thread_usage")["input_tokens"] == 1050


def test_codex_apply_patch_is_a_file_edit(server: LLMServer, repo: Path, home: Path) -> None:
    _cli("codex")
    patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n*** End Patch\n"
    server.enqueue(reply("", tool_call("apply_patch", patch, custom=True)), reply("Patched."))
    task = Task(id="t-patch", prompt="add notes", repo=str(repo))

    run = run_agent(adapter_for(_codex_profile(server)), task, task.prompt, repo,
                    _codex_env(home))

    assert run.returncode == 0, [e.text for e in run.entries]
    assert (repo / "notes.md").read_text() == "# Notes\n"
    edit = run.of(EntryKind.FILE_EDIT)[0]
    assert edit.data["paths"] == [str(repo / "notes.md")]
    assert edit.data["changes"][0]["kind"] == "add"


# ---- Aider ----------------------------------------------------------------------------
def test_aider_edits_a_file_and_restores_its_chat(server: LLMServer, repo: Path,
                                                  home: Path) -> None:
    _cli("aider")
    server.enqueue(reply("hello.txt\n```\nhello\n```\n", input_tokens=2500, output_tokens=120),
                   reply("It says hello."))
    profile = _with_options(builtin_profiles()["aider"], model="openai/gpt-4o",
                            edit_format="whole",
                            extra_args=["--openai-api-base", server.base_url,
                                        "--analytics-disable"])
    task = Task(id="t-aider", prompt="create hello.txt", repo=str(repo))
    env = {"HOME": str(home), "OPENAI_API_KEY": "sk-test"}

    run = run_agent(adapter_for(profile), task, task.prompt, repo, env)

    assert (repo / "hello.txt").read_text() == "hello\n"
    assert run.of(EntryKind.FILE_EDIT)[0].data["paths"] == ["hello.txt"]
    assert run.fact("usage")["input_tokens"] == 2500 and run.fact("usage")["cost_usd"] > 0
    assert not list(repo.glob(".aider*")), "aider history must stay out of the diff"

    follow = task.with_(follow_up="what is in it?")
    run_agent(adapter_for(profile, follow), follow, "what is in it?", repo, env)
    assert "create hello.txt" in json.dumps(server.llm_requests()[-1].body)


# ---- Gemini CLI -----------------------------------------------------------------------
def gemini_env(server: LLMServer, home: Path) -> dict[str, str]:
    """Gemini CLI pointed at the scripted server; 0.61 runs headless against a custom base
    URL only with the API-key auth chosen in its settings (else: "Invalid auth method")."""
    settings = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False}}
    (home / ".gemini").mkdir(exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    return {"HOME": str(home), "GEMINI_API_KEY": "sk-test", "GOOGLE_GEMINI_BASE_URL": server.url}


def test_gemini_writes_a_file_and_resumes_its_session(server: LLMServer, repo: Path,
                                                      home: Path) -> None:
    _cli("gemini")
    target = repo / "hello.txt"
    server.enqueue(reply("Writing it.", tool_call("write_file", {"file_path": str(target),
                                                                  "content": "hello\n"}),
                         input_tokens=200, output_tokens=40),
                   reply("Done: wrote hello.txt", input_tokens=260, output_tokens=10))
    profile = _with_options(builtin_profiles()["gemini"], model="gemini-2.5-pro")
    task = Task(id="t-gemini", prompt="create hello.txt", repo=str(repo))

    run = run_agent(adapter_for(profile), task, task.prompt, repo, gemini_env(server, home))

    assert run.returncode == 0, [e.text for e in run.entries]
    assert target.read_text() == "hello\n"
    session = run.of(EntryKind.SYSTEM)[0].data["session_id"]
    edit = run.of(EntryKind.FILE_EDIT)[0]
    assert edit.data["tool"] == "write_file" and edit.data["paths"] == [str(target)]
    assert run.of(EntryKind.TOOL_RESULT)[0].data["is_error"] is False
    said = "".join(e.text for e in run.of(EntryKind.MESSAGE) if not (e.data or {}).get("role"))
    assert said == "Writing it.Done: wrote hello.txt"  # streamed in pieces, one per entry
    spent = run.fact("usage")
    assert (spent["input_tokens"], spent["output_tokens"]) == (460, 50)
    assert spent["cost_usd"] == pytest.approx(460 * 1.25e-6 + 50 * 10e-6)
    assert not run.of(EntryKind.ERROR)
    assert {r.path for r in server.llm_requests()} == {
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"}

    server.enqueue(reply("It holds one line."))
    follow = task.with_(session_id=session, follow_up="what is in it?")
    again = run_agent(adapter_for(profile, follow), follow, "what is in it?", repo,
                      gemini_env(server, home))
    assert again.returncode == 0, [e.text for e in again.entries]
    assert again.fact("session_id") == session
    history = json.dumps(server.llm_requests()[-1].body)
    assert "Writing it." in history and "what is in it?" in history  # resumed


def _with_options(profile: AgentProfile, **options: Any) -> AgentProfile:
    return replace(profile, options={**profile.options, **options})
