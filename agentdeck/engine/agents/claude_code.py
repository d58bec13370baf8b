"""Claude Code (``claude -p --output-format stream-json --verbose``).

Each stdout line is one JSON event: ``system`` (``init`` with the session id, ``api_retry``,
``permission_denied``, ...), ``assistant`` (text / thinking / tool_use blocks), ``user``
(tool results) and a final ``result`` with the cost and token usage of the run. A line
becomes one entry; when it carries several content blocks the entry summarises them.
Follow-ups resume the session with ``--resume SESSION_ID``.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.cli_args import (
    COMMON_OPTIONS, checked_options, command_line, is_follow_up, model_of,
)
from agentdeck.engine.agents.lines import (
    as_dict, as_float, as_int, as_list, as_text, compact_json, dispatch, entry, load_event,
    plain_line, raw, shorten, usage,
)
from agentdeck.engine.models import EntryKind, ParsedEntry, Stream, Task

OPTIONS: dict[str, type | tuple[type, ...]] = {
    **COMMON_OPTIONS,
    "permission_mode": str,       # acceptEdits | auto | bypassPermissions | manual | dontAsk | plan
    "allowed_tools": list,
    "disallowed_tools": list,
    "max_budget_usd": (int, float),
    "append_system_prompt": str,
}

#: Tools whose call changes a file (the entry becomes FILE_EDIT).
EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
#: Tools whose call asks the user something (the entry becomes QUESTION).
QUESTION_TOOLS = frozenset({"AskUserQuestion"})

# A Write of a large file makes a line longer than the runtime keeps (it cuts the line,
# so the JSON no longer parses); the call's name and path come before the content.
_CUT_EDIT = re.compile(r'"type":"tool_use","id":"(?P<id>[^"]*)","name":"(?P<name>\w+)",'
                       r'"input":\{(?:"replace_all":\w+,)?"(?:file_path|notebook_path)":'
                       r'"(?P<path>(?:[^"\\]|\\.)*)"')


class ClaudeCodeAdapter(AgentAdapter):
    """Runs Claude Code in print mode and reads its stream-json events."""

    kind = "claude_code"

    def argv(self, task: Task, prompt: str) -> list[str]:
        options = checked_options(self.profile, OPTIONS)
        cmd = command_line(self.profile, task, prompt)
        cmd.flag("-p", "--print")
        cmd.set("stream-json", "--output-format")
        cmd.flag("--verbose")  # stream-json in print mode refuses to run without it
        if "permission_mode" in options:
            cmd.set(options["permission_mode"], "--permission-mode")
        if model := model_of(self.profile, options):
            cmd.set(model, "--model")
        if options.get("allowed_tools"):
            cmd.set(",".join(options["allowed_tools"]), "--allowedTools", "--allowed-tools")
        if options.get("disallowed_tools"):
            cmd.set(",".join(options["disallowed_tools"]), "--disallowedTools",
                    "--disallowed-tools")
        if "max_budget_usd" in options:
            cmd.set(str(options["max_budget_usd"]), "--max-budget-usd")
        if "append_system_prompt" in options:
            cmd.set(options["append_system_prompt"], "--append-system-prompt")
        if task.session_id and is_follow_up(task, prompt):
            cmd.set(task.session_id, "--resume", "-r")
        return cmd.final(list(options.get("extra_args", ())))

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        if stream is not Stream.STDOUT:
            return plain_line(line)
        event = load_event(line)
        if event is None:
            return _salvage_cut_edit(line)
        return dispatch(_HANDLERS, event, line)


def _salvage_cut_edit(line: str) -> ParsedEntry:
    """A FILE_EDIT from an assistant line cut short, else the line as RAW."""
    found = _CUT_EDIT.search(line) if line.startswith('{"type":"assistant"') else None
    if not found or found["name"] not in EDIT_TOOLS:
        return raw(line)
    try:
        path = json.loads(f'"{found["path"]}"')
    except ValueError:
        return raw(line)
    return entry(EntryKind.FILE_EDIT, f"{found['name']}: {shorten(path)}", line,
                 tool=found["name"], tool_use_id=found["id"], paths=[path], truncated=True)


# ---- system ---------------------------------------------------------------------------
def _system(event: dict[str, Any], line: str) -> ParsedEntry:
    subtype = as_text(event.get("subtype"))
    if subtype == "init":
        sid, model = as_text(event.get("session_id")), as_text(event.get("model"))
        tools = as_list(event.get("tools"))
        mode = as_text(event.get("permissionMode"))
        text = f"session {sid} started: model {model}, {len(tools)} tools, permission mode {mode}"
        return entry(EntryKind.SYSTEM, text, line, session_id=sid or None, model=model,
                     permission_mode=mode, version=event.get("claude_code_version"))
    if subtype == "api_retry":
        status = event.get("error_status")
        text = (f"API retry {as_int(event.get('attempt'))}/{as_int(event.get('max_retries'))} "
                f"in {as_float(event.get('retry_delay_ms')) / 1000:.1f} s: "
                f"{as_text(event.get('error')) or 'error'}")
        if status:
            text += f" (HTTP {status})"
        return entry(EntryKind.SYSTEM, text, line, retry=True, error_status=status)
    if subtype == "permission_denied":
        message = as_text(event.get("message")) or f"permission denied: {event.get('tool_name')}"
        return entry(EntryKind.QUESTION, message, line, question=message,
                     tool=event.get("tool_name"), tool_use_id=event.get("tool_use_id"))
    return entry(EntryKind.SYSTEM, f"system: {subtype or 'event'}", line)


# ---- assistant ------------------------------------------------------------------------
def _assistant(event: dict[str, Any], line: str) -> ParsedEntry:
    message = as_dict(event.get("message"))
    blocks = [b for b in as_list(message.get("content")) if isinstance(b, dict)]
    texts = [as_text(b.get("text")) for b in blocks if b.get("type") == "text"]
    text = "\n".join(t for t in texts if t)
    parent = event.get("parent_tool_use_id")
    if event.get("error") or event.get("is_api_error_message"):
        return entry(EntryKind.ERROR, text or as_text(event.get("error")) or "API error", line,
                     error=event.get("error"), api_error_status=event.get("api_error_status"))
    calls = [b for b in blocks if b.get("type") == "tool_use"]
    if calls:
        return _tool_calls(calls, text, line, parent)
    if text:
        return entry(EntryKind.MESSAGE, text, line, subagent=parent)
    thinking = "\n".join(as_text(b.get("thinking")) for b in blocks if b.get("type") == "thinking")
    if thinking:
        return entry(EntryKind.MESSAGE, thinking, line, thinking=True, subagent=parent)
    return raw(line)


def _tool_calls(calls: list[dict[str, Any]], text: str, line: str, parent: Any) -> ParsedEntry:
    names = [as_text(c.get("name")) for c in calls]
    inputs = [as_dict(c.get("input")) for c in calls]
    summary = "\n".join(_call_summary(n, i) for n, i in zip(names, inputs))
    shown = f"{text}\n{summary}" if text else summary
    paths = [_edited_path(i) for n, i in zip(names, inputs) if n in EDIT_TOOLS]
    data: dict[str, Any] = {"subagent": parent}
    if len(calls) == 1:
        data.update(tool=names[0], input=inputs[0], tool_use_id=calls[0].get("id"))
    else:
        data["tools"] = [{"tool": n, "input": i, "tool_use_id": c.get("id")}
                         for n, i, c in zip(names, inputs, calls)]
    asking = [i for n, i in zip(names, inputs) if n in QUESTION_TOOLS]
    if asking:
        return entry(EntryKind.QUESTION, shown, line, question=_question_text(asking[0]), **data)
    if paths:
        return entry(EntryKind.FILE_EDIT, shown, line, paths=[p for p in paths if p], **data)
    if "Bash" in names:
        data["command"] = as_text(inputs[names.index("Bash")].get("command"))
    return entry(EntryKind.TOOL_CALL, shown, line, **data)


def _call_summary(name: str, arguments: dict[str, Any]) -> str:
    detail = (_edited_path(arguments) or as_text(arguments.get("command"))
              or as_text(arguments.get("pattern")) or as_text(arguments.get("url"))
              or compact_json(arguments))
    return f"{name}: {shorten(detail)}"


def _edited_path(arguments: dict[str, Any]) -> str:
    return as_text(arguments.get("file_path")) or as_text(arguments.get("notebook_path"))


def _question_text(arguments: dict[str, Any]) -> str:
    asked = [as_text(as_dict(q).get("question")) for q in as_list(arguments.get("questions"))]
    return "\n".join(q for q in asked if q) or as_text(arguments.get("question")) or "question"


# ---- user (tool results) --------------------------------------------------------------
def _user(event: dict[str, Any], line: str) -> ParsedEntry:
    content = as_dict(event.get("message")).get("content")
    if isinstance(content, str):
        return entry(EntryKind.MESSAGE, content, line, role="user")
    results = [b for b in as_list(content)
               if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return raw(line)
    text = "\n".join(_result_text(b.get("content")) for b in results)
    first = results[0]
    return entry(EntryKind.TOOL_RESULT, text, line, tool_use_id=first.get("tool_use_id"),
                 is_error=any(bool(b.get("is_error")) for b in results))


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [as_text(as_dict(part).get("text")) for part in as_list(content)]
    return "\n".join(p for p in parts if p)


# ---- result ---------------------------------------------------------------------------
def _result(event: dict[str, Any], line: str) -> ParsedEntry:
    numbers = as_dict(event.get("usage"))
    # Claude counts cached prompt tokens apart; the prompt is all three together.
    tokens_in = sum(as_int(numbers.get(k)) for k in
                    ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    spent = usage(tokens_in, numbers.get("output_tokens"), event.get("total_cost_usd"))
    failed = bool(event.get("is_error"))
    turns = as_int(event.get("num_turns"))
    subtype = as_text(event.get("subtype")) or "result"
    text = (f"{subtype}: {turns} turns, {spent['input_tokens']} tokens in, "
            f"{spent['output_tokens']} out, ${spent['cost_usd']:.4f}")
    if failed and as_text(event.get("result")):
        text += f": {shorten(as_text(event['result']))}"
    denials = [as_dict(d) for d in as_list(event.get("permission_denials"))]
    question = _denials_question(denials) if denials and not failed else None
    return entry(EntryKind.ERROR if failed else EntryKind.USAGE, text, line, usage=spent,
                 session_id=as_text(event.get("session_id")) or None, num_turns=turns,
                 is_error=failed, subtype=subtype, result=event.get("result"),
                 question=question)


def _denials_question(denials: list[dict[str, Any]]) -> str:
    asked = [_call_summary(as_text(d.get("tool_name")), as_dict(d.get("tool_input")))
             for d in denials]
    return "Claude needs permission for: " + "; ".join(asked)


_HANDLERS: dict[str, Callable[[dict[str, Any], str], ParsedEntry]] = {
    "system": _system,
    "assistant": _assistant,
    "user": _user,
    "result": _result,
}
