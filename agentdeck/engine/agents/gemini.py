"""Gemini CLI (``gemini -p PROMPT --output-format stream-json``).

Stdout is JSON lines: ``init`` (session id, model), ``message`` (user / assistant,
assistant text arrives in ``delta`` pieces), ``tool_use``, ``tool_result``, ``error`` and a
final ``result`` with token stats (Gemini reports no cost). Plain text lines (text output
mode, stderr) become ERROR when they read like one, else RAW. Gemini reports no cost, but
its ``result`` counts tokens per model (the router's own calls included): the cost is
those counts at agentdeck's prices (`agentdeck.engine.config.pricing`).

Follow-ups add ``--resume SESSION_ID`` (``latest`` when no id is known: sessions are kept
per project directory, and each task has its own working copy). Unless the profile sets
an approval mode, the adapter asks for ``auto_edit``: in ``default`` mode headless Gemini
offers the model no tool that writes. It also adds ``--skip-trust``, since in a folder it
does not trust yet (every fresh working copy) Gemini silently falls back to ``default``.
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
    as_dict, as_int, as_text, compact_json, dispatch, entry, load_event, plain_line, shorten,
    usage,
)
from agentdeck.engine.config.pricing import cost_usd
from agentdeck.engine.models import EntryKind, ParsedEntry, Stream, Task

OPTIONS: dict[str, type | tuple[type, ...]] = {
    **COMMON_OPTIONS,
    "approval_mode": str,    # default | auto_edit | yolo | plan
}

#: Headless Gemini in its ``default`` mode offers the model no tool that writes a file.
DEFAULT_APPROVAL = "auto_edit"
_APPROVAL_FLAGS = ("--approval-mode", "-y", "--yolo")
EDIT_TOOLS = frozenset({"write_file", "replace", "edit"})
_PROMPT_OPTIONS = {"-p": "--prompt", "--prompt": "--prompt"}
#: How Gemini CLI's start-up profiler prefixes its notes on stderr ("[STARTUP] Cannot
#: measure phase ..."): words that read like an error, about the CLI itself.
_STARTUP_NOTE = "[STARTUP] "
_API_ERROR = re.compile(r"\[API Error: (?P<body>\{.*\})\]")


class GeminiAdapter(AgentAdapter):
    """Runs Gemini CLI headless and reads its stream-json events."""

    kind = "gemini"

    def argv(self, task: Task, prompt: str) -> list[str]:
        options = checked_options(self.profile, OPTIONS)
        cmd = command_line(self.profile, task, prompt, _PROMPT_OPTIONS)
        cmd.set("stream-json", "--output-format", "-o")
        if model := model_of(self.profile, options):
            cmd.set(model, "-m", "--model")
        if "approval_mode" in options:
            cmd.set(options["approval_mode"], "--approval-mode")
        elif not any(a in _APPROVAL_FLAGS or a.startswith("--approval-mode=") for a in cmd.args):
            cmd.set(DEFAULT_APPROVAL, "--approval-mode")
        cmd.flag("--skip-trust")
        if is_follow_up(task, prompt):
            cmd.set(task.session_id or "latest", "--resume", "-r")
        return cmd.final(list(options.get("extra_args", ())))

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        event = load_event(line) if stream is Stream.STDOUT else None
        if event is not None:
            return dispatch(_HANDLERS, event, line)
        if line.startswith(_STARTUP_NOTE):  # the CLI timing its own start, not the agent
            return ParsedEntry(EntryKind.SYSTEM, line)
        return plain_line(line)


def _init(event: dict[str, Any], line: str) -> ParsedEntry:
    sid, model = as_text(event.get("session_id")), as_text(event.get("model"))
    return entry(EntryKind.SYSTEM, f"session {sid} started: model {model}", line,
                 session_id=sid or None, model=model)


def _message(event: dict[str, Any], line: str) -> ParsedEntry:
    role = as_text(event.get("role")) or "assistant"
    return entry(EntryKind.MESSAGE, as_text(event.get("content")), line,
                 role=role if role != "assistant" else None)


def _tool_use(event: dict[str, Any], line: str) -> ParsedEntry:
    name, arguments = as_text(event.get("tool_name")), as_dict(event.get("parameters"))
    path = as_text(arguments.get("file_path"))
    command = as_text(arguments.get("command"))
    text = f"{name}: {shorten(path or command or compact_json(arguments))}"
    data = {"tool": name, "input": arguments, "tool_use_id": event.get("tool_id")}
    if name in EDIT_TOOLS and path:
        return entry(EntryKind.FILE_EDIT, text, line, paths=[path], **data)
    return entry(EntryKind.TOOL_CALL, text, line, command=command or None, **data)


def _tool_result(event: dict[str, Any], line: str) -> ParsedEntry:
    status = as_text(event.get("status"))
    output = event.get("output")
    text = output if isinstance(output, str) else (compact_json(output) if output else status)
    return entry(EntryKind.TOOL_RESULT, text, line, tool_use_id=event.get("tool_id"),
                 is_error=status == "error")


def _error(event: dict[str, Any], line: str) -> ParsedEntry:
    message = _api_message(as_text(event.get("message"))) or "error"
    severity = as_text(event.get("severity"))
    kind = EntryKind.SYSTEM if severity == "warning" else EntryKind.ERROR
    return entry(kind, message, line, severity=severity or None)


def _result(event: dict[str, Any], line: str) -> ParsedEntry:
    stats = as_dict(event.get("stats"))
    spent = usage(stats.get("input_tokens"), stats.get("output_tokens"), _cost(stats))
    status = as_text(event.get("status")) or "result"
    text = f"{status}: {spent['input_tokens']} tokens in, {spent['output_tokens']} out"
    failed = status == "error"
    if failed:
        reason = as_text(as_dict(event.get("error")).get("message"))
        text += ": " + (_api_message(reason) or "error")
    return entry(EntryKind.ERROR if failed else EntryKind.USAGE, text, line, usage=spent,
                 is_error=failed, tool_calls=stats.get("tool_calls"))


def _cost(stats: dict[str, Any]) -> float:
    """Dollars for the tokens of each model in ``stats["models"]``."""
    return sum(cost_usd(str(name), as_int(as_dict(counts).get("input_tokens")),
                        as_int(as_dict(counts).get("output_tokens")))
               for name, counts in as_dict(stats.get("models")).items())


def _api_message(message: str) -> str:
    """The API's own words from ``[API Error: {json}]``, else the message as it is."""
    found = _API_ERROR.search(message)
    if not found:
        return message
    try:
        body = json.loads(found["body"])
    except ValueError:
        return message
    return as_text(as_dict(as_dict(body).get("error")).get("message")) or message


_HANDLERS: dict[str, Callable[[dict[str, Any], str], ParsedEntry]] = {
    "init": _init,
    "message": _message,
    "tool_use": _tool_use,
    "tool_result": _tool_result,
    "error": _error,
    "result": _result,
}
