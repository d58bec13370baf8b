"""Command lines the agent adapters build from profiles, and the CLI-on-PATH check."""
from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentdeck.engine.agents.cli_check import find_cli
from agentdeck.engine.agents.registry import adapter_for
from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.models import AgentProfile, Task
from agentdeck.engine.config.profiles import builtin_profiles

TASK = Task(id="t1", prompt="-v fix the tests", repo="/repo", title="fix")
FOLLOW = TASK.with_(session_id="sess-1", follow_up="--also docs")


def profile(name: str, **changes: Any) -> AgentProfile:
    return replace(builtin_profiles()[name], **changes)


def argv(prof: AgentProfile, task: Task = TASK, prompt: str | None = None) -> list[str]:
    return adapter_for(prof, task).argv(task, task.prompt if prompt is None else prompt)


def overrides(args: list[str]) -> dict[str, Any]:
    """The ``-c key=value`` pairs of a codex command, values read back as TOML."""
    pairs = [args[i + 1] for i, arg in enumerate(args) if arg == "-c"]
    return tomllib.loads("\n".join(pairs))


# ---- Claude Code ----------------------------------------------------------------------
def test_claude_prompt_goes_after_double_dash() -> None:
    assert argv(profile("claude")) == [
        "claude", "-p", "--output-format", "stream-json", "--verbose",
        "--permission-mode", "acceptEdits", "--", "-v fix the tests"]


def test_claude_options_replace_template_flags() -> None:
    prof = profile("claude", model="claude-sonnet-4-5", options={
        "permission_mode": "bypassPermissions", "allowed_tools": ["Edit", "Bash(git *)"],
        "max_budget_usd": 2.5, "extra_args": ["--add-dir", "/data"]})
    args = argv(prof)
    assert args.count("--permission-mode") == 1
    assert args[args.index("--permission-mode") + 1] == "bypassPermissions"
    assert args[args.index("--model") + 1] == "claude-sonnet-4-5"
    assert args[args.index("--allowedTools") + 1] == "Edit,Bash(git *)"
    assert args[args.index("--max-budget-usd") + 1] == "2.5"
    assert args[-4:] == ["--add-dir", "/data", "--", "-v fix the tests"]


def test_claude_minimal_template_gets_stream_json() -> None:
    args = argv(profile("claude", command=("claude", "{prompt}")))
    assert args == ["claude", "-p", "--output-format", "stream-json", "--verbose", "--",
                    "-v fix the tests"]


def test_claude_follow_up_resumes_the_session_and_retry_does_not() -> None:
    args = argv(profile("claude"), FOLLOW, FOLLOW.follow_up)
    assert args[args.index("--resume") + 1] == "sess-1"
    assert args[-2:] == ["--", "--also docs"]
    assert "--resume" not in argv(profile("claude"), TASK.with_(session_id="sess-1"))


def test_prompt_inside_a_longer_argument_stays_in_place() -> None:
    prof = profile("claude", command=("claude", "-p", "Task {task_id}: {prompt}"))
    args = argv(prof)
    assert args[:3] == ["claude", "-p", "Task t1: -v fix the tests"] and "--" not in args


@pytest.mark.parametrize("options, message", [
    ({"permision_mode": "plan"}, "unknown option 'permision_mode'"),
    ({"allowed_tools": "Edit"}, "option 'allowed_tools' has the wrong type"),
    ({"allowed_tools": ["Edit", 3]}, "must be a list of strings"),
    ({"max_budget_usd": True}, "option 'max_budget_usd' has the wrong type"),
])
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        argv(profile("claude", options=options))


def test_command_without_prompt_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"no \{prompt\}"):
        argv(profile("claude", command=("claude", "-p")))


# ---- Codex ----------------------------------------------------------------------------
def test_codex_provider_sandbox_and_model() -> None:
    prof = profile("codex", options={"base_url": "http://127.0.0.1:9/v1", "sandbox": "read-only",
                                     "model": "gpt-5", "config": {"model_reasoning_effort": "low"}})
    args = argv(prof)
    assert args[:4] == ["codex", "exec", "--json", "--skip-git-repo-check"]
    assert args[args.index("-m") + 1] == "gpt-5"
    assert overrides(args) == {
        "model_reasoning_effort": "low", "sandbox_mode": "read-only",
        "model_provider": "agentdeck",
        "model_providers": {"agentdeck": {"name": "agentdeck", "base_url": "http://127.0.0.1:9/v1",
                                          "env_key": "OPENAI_API_KEY", "wire_api": "responses"}}}
    assert args[-2:] == ["--", "-v fix the tests"]


def test_codex_reads_openai_base_url_when_the_profile_passes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:7/v1")
    assert overrides(argv(profile("codex")))["model_providers"]["agentdeck"]["base_url"] == \
        "http://127.0.0.1:7/v1"
    assert "model_provider" not in overrides(argv(profile("codex", env=("OPENAI_API_KEY",))))


def test_codex_own_sandbox_is_off_inside_ours_and_on_outside_unless_chosen() -> None:
    confined = adapter_for(profile("codex"), TASK)
    assert overrides(confined.argv(TASK, TASK.prompt))["sandbox_mode"] == "danger-full-access"
    assert "agentdeck's sandbox confines it" in confined.notes()[0]
    unconfined = adapter_for(profile("codex", sandbox="none"), TASK)
    assert overrides(unconfined.argv(TASK, TASK.prompt))["sandbox_mode"] == "workspace-write"
    assert "its own command sandbox is on" in unconfined.notes()[0]
    chosen = profile("codex", command=("codex", "exec", "-s", "read-only", "{prompt}"))
    assert "sandbox_mode" not in overrides(argv(chosen))
    bypass = profile("codex", options={"extra_args": []},
                     command=("codex", "exec", "--dangerously-bypass-approvals-and-sandbox",
                              "{prompt}"))
    assert "sandbox_mode" not in overrides(argv(bypass))
    configured = profile("codex", options={"config": {"sandbox_mode": "danger-full-access"}})
    assert overrides(argv(configured))["sandbox_mode"] == "danger-full-access"


def test_codex_follow_up_resumes_the_thread_after_exec_flags() -> None:
    prof = profile("codex", options={"sandbox": "workspace-write", "extra_args": ["--ephemeral"]})
    args = argv(prof, FOLLOW, FOLLOW.follow_up)
    assert args[-5:] == ["--ephemeral", "resume", "sess-1", "--", "--also docs"]
    assert args.index("-c") < args.index("resume")


# ---- Aider and Gemini -----------------------------------------------------------------
def test_aider_prompt_is_the_message_option_value() -> None:
    args = argv(profile("aider", options={"model": "sonnet"}))
    assert args[-1] == "--message=-v fix the tests" and "--message" not in args
    assert args[args.index("--model") + 1] == "sonnet" and "--no-pretty" in args
    assert "--restore-chat-history" in argv(profile("aider"), FOLLOW, FOLLOW.follow_up)
    assert "--restore-chat-history" not in args
    assert args[args.index("--chat-history-file") + 1] == ".git/aider.chat.history.md"
    assert args[args.index("--input-history-file") + 1] == ".git/aider.input.history"
    own = profile("aider", command=("aider", "--chat-history-file=/tmp/h.md", "-m", "{prompt}"))
    assert argv(own).count("--chat-history-file") == 0
    assert "--chat-history-file=/tmp/h.md" in argv(own)


def test_gemini_prompt_option_and_resume() -> None:
    args = argv(profile("gemini", options={"approval_mode": "auto_edit"}))
    assert args == ["gemini", "--output-format", "stream-json", "--approval-mode", "auto_edit",
                    "--skip-trust", "--prompt=-v fix the tests"]
    follow = argv(profile("gemini"), FOLLOW, FOLLOW.follow_up)
    assert follow == ["gemini", "--output-format", "stream-json", "--approval-mode",
                      "auto_edit", "--skip-trust", "--resume", "sess-1", "--prompt=--also docs"]
    yolo = argv(profile("gemini", command=("gemini", "--yolo", "-p", "{prompt}")))
    assert "--approval-mode" not in yolo and "--skip-trust" in yolo
    unknown = FOLLOW.with_(session_id=None)
    assert argv(profile("gemini"), unknown, unknown.follow_up)[-3:-1] == ["--resume", "latest"]


# ---- CLI on PATH ----------------------------------------------------------------------
def test_find_cli_on_path(tmp_path: Path) -> None:
    program = tmp_path / "claude"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    assert find_cli(profile("claude"), path=str(tmp_path)) == str(program)


@pytest.mark.parametrize("name, hint", [
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("aider", "pip install aider-chat"),
])
def test_missing_cli_names_the_package(tmp_path: Path, name: str, hint: str) -> None:
    expected = f"not installed or not on PATH; install it with: {hint}"
    with pytest.raises(RuntimeUnavailable, match=expected):
        find_cli(profile(name), path=str(tmp_path))
