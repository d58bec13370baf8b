"""Agent output parsers, fed with transcripts captured from the real CLIs.

The fixtures in ``fixtures/`` are verbatim stdout/stderr of Claude Code 2.1.331, Codex
CLI 0.169.0, Gemini CLI 0.61.0 and Aider 0.86.2 run against a scripted server (see
docs/agents.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdeck.engine.agents.aider import AiderAdapter
from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.claude_code import ClaudeCodeAdapter
from agentdeck.engine.agents.codex import CodexAdapter
from agentdeck.engine.agents.gemini import GeminiAdapter
from agentdeck.engine.agents.registry import adapter_for
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile, EntryKind, ParsedEntry, Stream, Task
from agentdeck.engine.config.profiles import builtin_profiles
from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, cut_marker

FIXTURES = Path(__file__).parents[1] / "fixtures"
K = EntryKind


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def parse_all(adapter: AgentAdapter, name: str,
              stream: Stream = Stream.STDOUT) -> list[ParsedEntry]:
    return [adapter.parse(stream, line) for line in lines(name)]


def claude() -> ClaudeCodeAdapter:
    return ClaudeCodeAdapter(builtin_profiles()["claude"])


def codex(usage_before: tuple[int, int] = (0, 0)) -> CodexAdapter:
    return CodexAdapter(builtin_profiles()["codex"], usage_before)


def kinds(entries: list[ParsedEntry]) -> list[EntryKind]:
    return [e.kind for e in entries]


# ---- Claude Code ----------------------------------------------------------------------
def test_claude_write_transcript() -> None:
    entries = parse_all(claude(), "claude_write.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.MESSAGE, K.FILE_EDIT, K.TOOL_RESULT, K.MESSAGE, K.USAGE]
    init, _, edit, result, last, done = entries
    assert init.data["session_id"] == "1a73426f-55d7-4eb4-acaa-8d99f2625393"
    assert init.data["model"] == "claude-opus-5-5"
    assert edit.data["tool"] == "Write" and edit.data["tool_use_id"] == "toolu_01A"
    assert edit.data["paths"] == ["/tmp/capture/repo/hello.txt"]
    assert edit.data["input"]["content"] == "hello\n"
    assert result.text.startswith("File created successfully") and not result.data["is_error"]
    assert last.text == "Done: wrote hello.txt"
    assert done.data["usage"] == {"input_tokens": 240, "output_tokens": 84, "cost_usd": 0.00264}
    assert done.data["session_id"] == init.data["session_id"]
    assert done.data["num_turns"] == 2 and "question" not in done.data


def test_claude_permission_denial_is_a_question() -> None:
    entries = parse_all(claude(), "claude_permission_denied.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.SYSTEM, K.MESSAGE, K.MESSAGE, K.TOOL_CALL,
                              K.TOOL_RESULT, K.FILE_EDIT, K.QUESTION, K.TOOL_RESULT,
                              K.FILE_EDIT, K.TOOL_RESULT, K.MESSAGE, K.USAGE]
    thinking, bash, denied, final = entries[2], entries[4], entries[7], entries[-1]
    assert thinking.data["thinking"] is True and thinking.text == "Let me run a command."
    assert bash.data["command"] == "echo hi && ls" and bash.text == "Bash: echo hi && ls"
    assert denied.data["tool"] == "Write"
    assert denied.data["question"].startswith("Claude requested permissions to write")
    assert entries[8].data["is_error"] is True
    assert final.data["question"] == \
        "Claude needs permission for: Write: /tmp/capture/repo/hello.txt"
    assert final.data["usage"]["cost_usd"] == 0.00528


def test_claude_api_error_and_failed_result() -> None:
    entries = parse_all(claude(), "claude_api_error.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.ERROR, K.ERROR]
    assert entries[1].text.startswith("Prompt is too long")
    assert entries[1].data["api_error_status"] == 400
    assert entries[2].data["is_error"] is True
    assert entries[2].data["usage"] == {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}


def test_claude_retry_notice_is_not_an_error() -> None:
    entries = parse_all(claude(), "claude_retry.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.SYSTEM, K.MESSAGE, K.USAGE]
    assert entries[1].text == "API retry 1/10 in 0.6 s: authentication_failed (HTTP 401)"
    assert entries[1].data["retry"] is True


def test_claude_missing_session_on_resume() -> None:
    [result] = parse_all(claude(), "claude_resume_missing.jsonl")
    assert result.kind is K.ERROR and result.data["subtype"] == "error_during_execution"
    stderr = parse_all(claude(), "claude_stderr.log", Stream.STDERR)
    assert kinds(stderr) == [K.ERROR, K.ERROR]
    assert stderr[0].text.startswith("No conversation found with session ID")


def test_claude_several_blocks_in_one_line_are_summarised() -> None:
    line = json.dumps({"type": "assistant", "message": {"content": [
        {"type": "text", "text": "Two edits."},
        {"type": "tool_use", "id": "a", "name": "Read", "input": {"file_path": "x.py"}},
        {"type": "tool_use", "id": "b", "name": "Edit",
         "input": {"file_path": "y.py", "old_string": "1", "new_string": "2"}}]}})
    parsed = claude().parse(Stream.STDOUT, line)
    assert parsed.kind is K.FILE_EDIT
    assert parsed.text == "Two edits.\nRead: x.py\nEdit: y.py"
    assert parsed.data["paths"] == ["y.py"]
    assert [t["tool"] for t in parsed.data["tools"]] == ["Read", "Edit"]
    assert parsed.data["raw"] == line


def test_claude_write_of_a_large_file_cut_by_the_runtime_is_still_an_edit() -> None:
    event = json.loads(lines("claude_write.jsonl")[2])
    event["message"]["content"][0]["input"]["content"] = "x" * (2 * MAX_LINE_BYTES)
    whole = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    cut = whole[:MAX_LINE_BYTES] + cut_marker(len(whole) - MAX_LINE_BYTES)
    parsed = claude().parse(Stream.STDOUT, cut)
    assert parsed.kind is K.FILE_EDIT and parsed.data["truncated"] is True
    assert parsed.data["paths"] == ["/tmp/capture/repo/hello.txt"]
    assert parsed.data["raw"] == cut
    edit = cut.replace('"name":"Write","input":{', '"name":"Edit","input":{"replace_all":false,')
    assert claude().parse(Stream.STDOUT, edit).data["tool"] == "Edit"
    read = cut.replace('"name":"Write"', '"name":"Read"')
    assert claude().parse(Stream.STDOUT, read) == ParsedEntry(K.RAW, read)


def test_claude_ask_user_question_tool_is_a_question() -> None:
    line = json.dumps({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "id": "q", "name": "AskUserQuestion",
         "input": {"questions": [{"question": "Which database?", "options": []}]}}]}})
    parsed = claude().parse(Stream.STDOUT, line)
    assert parsed.kind is K.QUESTION and parsed.data["question"] == "Which database?"


# ---- Codex ----------------------------------------------------------------------------
def test_codex_command_transcript() -> None:
    entries = parse_all(codex(), "codex_exec_command.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.SYSTEM, K.COMMAND, K.COMMAND, K.MESSAGE, K.USAGE]
    assert entries[0].data["session_id"] == "01a2109f-6f2e-7f72-bdf7-c75aae874fa7"
    started, finished = entries[2], entries[3]
    assert started.data["status"] == "in_progress" and "exit_code" not in started.data
    assert finished.data["exit_code"] == 0 and "hello.txt" in finished.data["command"]
    assert entries[5].data["usage"] == {"input_tokens": 400, "output_tokens": 60, "cost_usd": 0.0}


def test_codex_patch_reasoning_and_failed_command() -> None:
    entries = parse_all(codex(), "codex_apply_patch.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.SYSTEM, K.MESSAGE, K.MESSAGE, K.TOOL_CALL,
                              K.FILE_EDIT, K.COMMAND, K.COMMAND, K.MESSAGE, K.USAGE]
    assert entries[2].data["thinking"] is True
    edit = entries[5]
    assert edit.data["paths"] == ["/tmp/capture/repo/notes.md"] and edit.text.startswith("add ")
    failed = entries[7]
    assert failed.data["exit_code"] == 3 and failed.data["output"] == "# Notes\nfirst line\n"
    assert failed.text.endswith("[exit 3]\n# Notes\nfirst line")


def test_codex_resumed_thread_counts_only_the_new_turn() -> None:
    [*_, done] = parse_all(codex(usage_before=(600, 90)), "codex_resume.jsonl")
    assert done.data["usage"] == {"input_tokens": 200, "output_tokens": 30, "cost_usd": 0.0}
    assert done.data["thread_usage"]["input_tokens"] == 800


def test_registry_gives_codex_follow_ups_the_task_usage() -> None:
    task = Task(id="t", prompt="p", repo="/r", agent="codex", session_id="th",
                follow_up="more", tokens_in=600, tokens_out=90)
    adapter = adapter_for(builtin_profiles()["codex"], task)
    [*_, done] = [adapter.parse(Stream.STDOUT, line) for line in lines("codex_resume.jsonl")]
    assert done.data["usage"]["input_tokens"] == 200
    fresh = adapter_for(builtin_profiles()["codex"], task.with_(follow_up=None))
    [*_, done] = [fresh.parse(Stream.STDOUT, line) for line in lines("codex_resume.jsonl")]
    assert done.data["usage"]["input_tokens"] == 800


def test_codex_failed_turn_and_reconnect() -> None:
    failed = parse_all(codex(), "codex_turn_failed.jsonl")
    assert kinds(failed) == [K.SYSTEM, K.SYSTEM, K.ERROR, K.ERROR]
    assert failed[2].text == "Invalid schema for function 'exec_command'"
    assert failed[3].text == "turn failed: Invalid schema for function 'exec_command'"
    retried = parse_all(codex(), "codex_reconnect.jsonl")
    assert kinds(retried) == [K.SYSTEM, K.SYSTEM, K.SYSTEM, K.MESSAGE, K.USAGE]
    assert retried[2].data["retry"] is True


def test_codex_stderr_rejection_is_a_question() -> None:
    entries = parse_all(codex(), "codex_stderr.log", Stream.STDERR)
    assert kinds(entries) == [K.RAW, K.RAW, K.RAW, K.QUESTION]
    assert entries[3].data["question"].startswith("approval policy is Never; reject command")


@pytest.mark.parametrize("item, kind, text", [
    ({"type": "mcp_tool_call", "server": "docs", "tool": "search", "arguments": {"q": "x"},
      "status": "in_progress"}, K.TOOL_CALL, 'docs.search: {"q":"x"}'),
    ({"type": "web_search", "query": "pytest fixtures"}, K.TOOL_CALL,
     "web search: pytest fixtures"),
    ({"type": "todo_list", "items": [{"text": "a", "completed": True},
                                     {"text": "b", "completed": False}]},
     K.MESSAGE, "plan:\n[x] a\n[ ] b"),
    ({"type": "error", "message": "model refused"}, K.ERROR, "model refused"),
    ({"type": "file_change", "changes": [{"path": "a.py", "kind": "update"}], "status": "failed"},
     K.ERROR, "patch failed: update a.py"),
])
def test_codex_other_items(item: dict, kind: EntryKind, text: str) -> None:
    line = json.dumps({"type": "item.completed" if kind is not K.TOOL_CALL else "item.started",
                       "item": item})
    parsed = codex().parse(Stream.STDOUT, line)
    assert (parsed.kind, parsed.text, parsed.data["raw"]) == (kind, text, line)


# ---- Aider and Gemini (plain logs) ----------------------------------------------------
AIDER = AiderAdapter(builtin_profiles()["aider"])


def test_aider_write_transcript() -> None:
    entries = parse_all(AIDER, "aider_write.log")
    found = [(e.kind, e.data) for e in entries if e.kind is not K.RAW]
    assert found == [
        (K.USAGE, {"usage": {"input_tokens": 2500, "output_tokens": 120, "cost_usd": 0.0075}}),
        (K.FILE_EDIT, {"paths": ["hello.txt"]})]
    assert all(e.text == line for e, line in zip(entries, lines("aider_write.log")))


def test_aider_api_error() -> None:
    errors = [e for e in parse_all(AIDER, "aider_auth_error.log") if e.kind is K.ERROR]
    assert len(errors) == 1
    assert errors[0].text.startswith("litellm.AuthenticationError: AuthenticationError")


# Lines below follow Aider 0.86.2's format strings (base_coder.py, io.py) for cases the
# captured runs did not show: cache counts, a cost on its own line, an open question.
@pytest.mark.parametrize("line, kind, data", [
    ("Applied edit to src/app.py", K.FILE_EDIT, {"paths": ["src/app.py"]}),
    ("Tokens: 2.5k sent, 120 received. Cost: $0.01 message, $0.02 session.", K.USAGE,
     {"usage": {"input_tokens": 2500, "output_tokens": 120, "cost_usd": 0.01}}),
    ("Tokens: 12k sent, 1.1k cache write, 3.0k cache hit, 250 received.", K.USAGE,
     {"usage": {"input_tokens": 12000, "output_tokens": 250, "cost_usd": 0.0}}),
    ("Cost: $0.0031 message, $0.0050 session.", K.USAGE,
     {"usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0031}}),
    ("Create new file? (Y)es/(N)o [Yes]: ", K.QUESTION,
     {"question": "Create new file? (Y)es/(N)o [Yes]:"}),
    ("Create new file? (Y)es/(N)o [Yes]: y", K.RAW, None),
    ("litellm.AuthenticationError: AnthropicException - invalid x-api-key", K.ERROR, None),
    ("The LLM did not conform to the edit format.", K.ERROR, None),
    ("I fixed the invalid input handling.", K.RAW, None),
])
def test_aider_lines(line: str, kind: EntryKind, data: dict | None) -> None:
    parsed = AIDER.parse(Stream.STDOUT, line)
    assert parsed.kind is kind and parsed.text == line
    assert {k: v for k, v in (parsed.data or {}).items() if k != "raw"} == (data or {})


def gemini() -> GeminiAdapter:
    return GeminiAdapter(builtin_profiles()["gemini"])


def test_gemini_write_transcript() -> None:
    entries = parse_all(gemini(), "gemini_write.jsonl")
    assert kinds(entries) == [K.SYSTEM, K.MESSAGE, K.MESSAGE, K.FILE_EDIT, K.TOOL_RESULT,
                              K.MESSAGE, K.USAGE]
    assert entries[0].data["session_id"] == "477d638c-4f22-48cc-a790-b26c61b571d1"
    assert entries[1].data["role"] == "user" and "role" not in entries[2].data
    assert entries[3].data["paths"] == ["/tmp/capture/repo/gem.txt"]
    assert entries[3].data["tool"] == "write_file"
    assert entries[4].data == {"tool_use_id": entries[3].data["tool_use_id"], "is_error": False,
                               "raw": lines("gemini_write.jsonl")[4]}
    # Gemini reports no cost: its tokens of gemini-2.5-pro at the shipped prices.
    assert entries[6].data["usage"] == {"input_tokens": 200, "output_tokens": 40,
                                        "cost_usd": pytest.approx(200 * 1.25e-6 + 40 * 10e-6)}


def test_gemini_tool_error_and_api_error() -> None:
    failed_tool = parse_all(gemini(), "gemini_tool_error.jsonl")[4]
    assert failed_tool.kind is K.TOOL_RESULT and failed_tool.data["is_error"] is True
    assert failed_tool.text.startswith('Tool "write_file" not found.')
    [_, _, result] = parse_all(gemini(), "gemini_api_error.jsonl")
    assert result.kind is K.ERROR
    assert result.text == \
        "error: 0 tokens in, 0 out: API key not valid. Please pass a valid API key."


def test_gemini_stderr_and_text_mode_lines() -> None:
    entries = parse_all(gemini(), "gemini_stderr.log", Stream.STDERR)
    errors = [e.text for e in entries if e.kind is K.ERROR]
    assert len(errors) == 2
    assert errors[0].startswith("Error executing tool write_file: ")
    assert errors[1].startswith("Error when talking to Gemini API ")
    assert {e.kind for e in entries} == {K.RAW, K.ERROR}
    text = "Here is the plan."
    assert gemini().parse(Stream.STDOUT, text) == ParsedEntry(K.RAW, text)
    startup = ("[STARTUP] Cannot measure phase 'cleanup_ops': start mark "
               "'startup:cleanup_ops:start' not found (likely cleared by reset).")
    assert gemini().parse(Stream.STDERR, startup) == ParsedEntry(K.SYSTEM, startup)


# ---- never raise, never drop ----------------------------------------------------------
def _hostile_lines() -> list[str]:
    captured = [line for name in sorted(FIXTURES.glob("*.jsonl")) for line in lines(name.name)]
    cut = [line[: len(line) // 2] for line in captured]
    shapes = ['{"type": 5}', '{"type": "assistant", "message": "text"}',
              '{"type": "assistant", "message": {"content": [1, null, {"type": "tool_use"}]}}',
              '{"type": "user", "message": {"content": [{"type": "tool_result", "content": 7}]}}',
              '{"type": "result", "usage": "lots", "total_cost_usd": "NaN", "num_turns": -1}',
              '{"type": "system", "subtype": "api_retry", "attempt": "x"}',
              '{"type": "item.completed", "item": {"type": "command_execution", "exit_code": "?"}}',
              '{"type": "item.completed", "item": {"type": "file_change", "changes": "all"}}',
              '{"type": "turn.completed", "usage": {"input_tokens": 1e400}}',
              '{"type": "result", "usage": {"input_tokens": 1e400}, "total_cost_usd": -1e400}',
              '{"type": "result", "stats": {"input_tokens": 1e400, "output_tokens": -2}}',
              '{"type": "turn.failed", "error": "boom"}', '{"type": "brand.new.event"}',
              "[1, 2]", "null", '"text"', "{", "}" * 3, "\x00\x01\ufffd\ufffdbinary\x7f",
              "[" * 5000 + "]" * 5000, '{"a":' * 100_000 + "1" + "}" * 100_000, "", " ", "\t\r"]
    return captured + cut + shapes


ADAPTERS = [claude(), codex(), AIDER, gemini(),
            AgentAdapter(builtin_profiles()["shell"])]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.kind)
def test_parsers_never_raise_or_drop_a_line(adapter: AgentAdapter) -> None:
    for stream in (Stream.STDOUT, Stream.STDERR):
        for line in _hostile_lines():
            parsed = adapter.parse(stream, line)
            assert isinstance(parsed, ParsedEntry) and isinstance(parsed.kind, EntryKind)
            assert parsed.text == line or (parsed.data or {}).get("raw") == line, (stream, line)
            json.dumps(parsed.data)  # storable as JSON


@pytest.mark.parametrize("line", [
    '{"type":"result","usage":{"input_tokens":1e400,"output_tokens":5},"total_cost_usd":1e999}',
    '{"type":"result","usage":{"input_tokens":1e300,"output_tokens":5},"total_cost_usd":-3}',
    '{"type":"result","usage":{"input_tokens":"many","output_tokens":5},"total_cost_usd":null}',
])
def test_absurd_usage_numbers_count_as_nothing(line: str) -> None:
    parsed = claude().parse(Stream.STDOUT, line)
    assert parsed.kind is K.USAGE
    assert parsed.data["usage"] == {"input_tokens": 0, "output_tokens": 5, "cost_usd": 0.0}


@pytest.mark.parametrize("adapter", [claude(), codex(), gemini()], ids=lambda a: a.kind)
def test_unknown_and_broken_json_stays_raw(adapter: AgentAdapter) -> None:
    for line in ['{"type": "brand.new.event", "x": 1}', '{"type": "result", "usage": {',
                 "plain words", "\x00garbage\xff"]:
        assert adapter.parse(Stream.STDOUT, line) == ParsedEntry(K.RAW, line)


# ---- registry -------------------------------------------------------------------------
def test_registry_maps_kinds_to_adapters() -> None:
    profiles = builtin_profiles()
    expected = {"shell": AgentAdapter, "claude": ClaudeCodeAdapter, "codex": CodexAdapter,
                "aider": AiderAdapter, "gemini": GeminiAdapter}
    for name, cls in expected.items():
        assert type(adapter_for(profiles[name])) is cls
    with pytest.raises(InvalidInput, match="kind 'cursor'"):
        adapter_for(AgentProfile(name="x", kind="cursor", command=("cursor", "{prompt}")))
