"""OpenAI Codex CLI (``codex exec --json``).

Stdout is JSON lines: ``thread.started`` (the thread id, our session id),
``turn.started``, ``item.started`` / ``item.updated`` / ``item.completed`` (commands,
agent messages, reasoning, file changes, MCP calls, web searches, plans, errors),
``turn.completed`` with token usage, ``turn.failed`` and ``error``. Codex reports no
cost, and its usage counts the whole thread: a resumed thread reports the earlier turns
again, so entries carry the difference to what the adapter already knew
(``usage_before``) and the thread total apart (``thread_usage``).

Codex has a command sandbox of its own (bubblewrap or Landlock on Linux). Inside
agentdeck's sandbox (the Docker runtime, or the local one unless the profile says
``sandbox = "none"``) the adapter turns it off (``sandbox_mode = "danger-full-access"``):
agentdeck's confinement replaces it, and Codex's own fails there (it refuses to set up
its helpers when its home is under /tmp, nested namespaces may be refused) — silently:
its commands then never run. Unconfined, the adapter asks for ``workspace-write``. A
profile's ``options.sandbox`` (or a sandbox flag in its command) always wins.
Follow-ups run ``codex exec ... resume THREAD_ID -- PROMPT``. Codex ignores
``OPENAI_BASE_URL``; ``options.base_url`` (or that variable, when the profile passes it)
becomes a ``-c model_providers.agentdeck={...}`` provider of its own.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.agents.cli_args import (
    COMMON_OPTIONS, checked_options, command_line, is_follow_up, model_of, toml_key, toml_value,
)
from agentdeck.engine.agents.lines import (
    as_dict, as_int, as_list, as_text, compact_json, entry, load_event, plain_line, raw,
    shorten, usage,
)
from agentdeck.engine.models import AgentProfile, EntryKind, ParsedEntry, Stream, Task

OPTIONS: dict[str, type | tuple[type, ...]] = {
    **COMMON_OPTIONS,
    "sandbox": str,          # read-only | workspace-write | danger-full-access
    "approval": str,         # untrusted | on-failure | on-request | never
    "base_url": str,         # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1
    "env_key": str,          # the variable holding its API key (default OPENAI_API_KEY)
    "wire_api": str,         # responses (default) | chat
    "config": dict,          # any other `-c key=value` override, values as TOML
}
PROVIDER = "agentdeck"
#: Codex exec's own default, read-only, makes every edit fail (silently: the refused
#: command is not even reported); the task's working copy is the agent's to change.
DEFAULT_SANDBOX = "workspace-write"
#: Inside agentdeck's sandbox, which replaces Codex's own (see the module docstring).
CONFINED_SANDBOX = "danger-full-access"
#: Item statuses of a tool call that did not succeed.
_FAILED = ("failed", "declined")
_SANDBOX_FLAGS = ("-s", "--sandbox", "--dangerously-bypass-approvals-and-sandbox")

# Codex logs to stderr as "<time> ERROR <target>: <message>"; a command it refused to run
# outside the sandbox is a permission denial, which we surface as a question.
_REJECTED = ("reject command", "approval policy")


class CodexAdapter(AgentAdapter):
    """Runs ``codex exec --json`` and reads its thread events."""

    kind = "codex"

    def __init__(self, profile: AgentProfile, usage_before: tuple[int, int] = (0, 0)) -> None:
        """``usage_before``: tokens (in, out) the resumed thread had already reported."""
        super().__init__(profile)
        self._seen_in, self._seen_out = usage_before
        self._note = ""
        self.acted = False

    def argv(self, task: Task, prompt: str) -> list[str]:
        options = checked_options(self.profile, OPTIONS)
        cmd = command_line(self.profile, task, prompt)
        cmd.flag("--json")
        if model := model_of(self.profile, options):
            cmd.set(model, "-m", "--model")
        overrides: dict[str, Any] = dict(options.get("config", {}))
        # -c works for `exec` and `exec resume` alike; -s does not.
        if "sandbox" in options:
            overrides["sandbox_mode"] = options["sandbox"]
        elif not _chooses_sandbox(cmd.args, overrides):
            overrides["sandbox_mode"] = self._default_sandbox()
        if "approval" in options:
            overrides["approval_policy"] = options["approval"]
        overrides.update(self._provider(options))
        for key, value in overrides.items():
            cmd.args += ["-c", f"{_dotted(key)}={toml_value(value)}"]
        extra = list(options.get("extra_args", ()))
        if task.session_id and is_follow_up(task, prompt):
            extra += ["resume", task.session_id]
        return cmd.args + extra + cmd.tail

    def _default_sandbox(self) -> str:
        if self.profile.sandbox == "none":
            self._note = (f"codex: its own command sandbox is on ({DEFAULT_SANDBOX}): the "
                          "profile runs it outside agentdeck's sandbox")
            return DEFAULT_SANDBOX
        self._note = (f"codex: its own command sandbox is off ({CONFINED_SANDBOX}): "
                      "agentdeck's sandbox confines it instead")
        return CONFINED_SANDBOX

    def notes(self) -> list[str]:
        return [self._note] if self._note else []

    def _provider(self, options: dict[str, Any]) -> dict[str, Any]:
        base_url = options.get("base_url")
        if not base_url and "OPENAI_BASE_URL" in self.profile.env:
            base_url = os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            return {}
        provider = {"name": PROVIDER, "base_url": base_url,
                    "env_key": options.get("env_key", "OPENAI_API_KEY"),
                    "wire_api": options.get("wire_api", "responses")}
        return {"model_provider": PROVIDER, f"model_providers.{PROVIDER}": provider}

    def parse(self, stream: Stream, line: str) -> ParsedEntry:
        if stream is not Stream.STDOUT:
            return _stderr(line)
        event = load_event(line)
        kind = as_text(event.get("type")) if event else ""
        try:
            if kind == "turn.completed":
                return self._turn_completed(event, line)
            handler = _HANDLERS.get(kind)
            parsed = handler(event, line) if handler else raw(line)
        except Exception:  # untrusted input: a shape we did not foresee is kept, not lost
            return raw(line)
        if parsed.kind in (EntryKind.COMMAND, EntryKind.FILE_EDIT, EntryKind.TOOL_CALL):
            self.acted = True
        return parsed

    def _turn_completed(self, event: dict[str, Any], line: str) -> ParsedEntry:
        numbers = as_dict(event.get("usage"))
        total_in = as_int(numbers.get("input_tokens"))
        total_out = as_int(numbers.get("output_tokens"))
        spent = usage(max(0, total_in - self._seen_in), max(0, total_out - self._seen_out))
        self._seen_in, self._seen_out = max(total_in, self._seen_in), max(total_out, self._seen_out)
        cached = as_int(numbers.get("cached_input_tokens"))
        text = (f"turn completed: {spent['input_tokens']} tokens in ({cached} cached in thread), "
                f"{spent['output_tokens']} out")
        return entry(EntryKind.USAGE, text, line, usage=spent,
                     thread_usage={"input_tokens": total_in, "output_tokens": total_out,
                                   "cached_input_tokens": cached})


def _chooses_sandbox(args: list[str], overrides: dict[str, Any]) -> bool:
    """True when the template or the ``config`` option already picks a sandbox."""
    in_template = any(a in _SANDBOX_FLAGS or a.startswith(("--sandbox=", "sandbox_mode="))
                      for a in args)
    return in_template or "sandbox_mode" in overrides


def _dotted(key: str) -> str:
    return ".".join(toml_key(part) for part in key.split("."))


def _stderr(line: str) -> ParsedEntry:
    if " ERROR " in line and any(marker in line for marker in _REJECTED):
        question = line.split("error=", 1)[-1].strip()
        return entry(EntryKind.QUESTION, question, line, question=question)
    return plain_line(line)


# ---- thread and turn events -----------------------------------------------------------
def _thread_started(event: dict[str, Any], line: str) -> ParsedEntry:
    thread = as_text(event.get("thread_id"))
    return entry(EntryKind.SYSTEM, f"thread {thread} started", line, session_id=thread or None)


def _turn_started(event: dict[str, Any], line: str) -> ParsedEntry:
    return entry(EntryKind.SYSTEM, "turn started", line)


def _turn_failed(event: dict[str, Any], line: str) -> ParsedEntry:
    message = _error_message(as_text(as_dict(event.get("error")).get("message")))
    return entry(EntryKind.ERROR, f"turn failed: {message}", line)


def _error(event: dict[str, Any], line: str) -> ParsedEntry:
    message = _error_message(as_text(event.get("message")))
    if message.startswith("Reconnecting"):  # a retry notice, not a failure (yet)
        return entry(EntryKind.SYSTEM, message, line, retry=True)
    return entry(EntryKind.ERROR, message, line)


def _error_message(message: str) -> str:
    """The API's own words when Codex passes an error body through as JSON text."""
    try:
        body = json.loads(message)
    except ValueError:
        return message or "error"
    inner = as_dict(as_dict(body).get("error"))
    return as_text(inner.get("message")) or message


# ---- items ----------------------------------------------------------------------------
def _item(event: dict[str, Any], line: str) -> ParsedEntry:
    item = as_dict(event.get("item"))
    handler = _ITEMS.get(as_text(item.get("type")))
    if handler is None:
        return raw(line)
    done = event.get("type") == "item.completed"
    return handler(item, done, line)


def _command(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    command = as_text(item.get("command"))
    output = as_text(item.get("aggregated_output"))
    code = item.get("exit_code")
    status = as_text(item.get("status"))
    failed = done and (status in _FAILED or (isinstance(code, int) and code != 0))
    text = f"{'failed: ' if failed else ''}$ {command}"
    if done:
        text += f"  [exit {code}]" if code is not None else f"  [{status or 'no exit code'}]"
        text += f"\n{output.rstrip()}" if output.strip() else ""
    return entry(EntryKind.COMMAND, text, line, command=command, output=output if done else None,
                 exit_code=code, status=status or None, failed=failed)


def _file_change(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    changes = [as_dict(c) for c in as_list(item.get("changes"))]
    paths = [as_text(c.get("path")) for c in changes]
    what = ", ".join(f"{as_text(c.get('kind'))} {as_text(c.get('path'))}" for c in changes)
    status = as_text(item.get("status"))
    if not done:
        return entry(EntryKind.TOOL_CALL, f"apply_patch: {what}", line, tool="apply_patch",
                     changes=changes)
    if status == "failed":
        return entry(EntryKind.ERROR, f"patch failed: {what}", line, changes=changes, paths=paths)
    return entry(EntryKind.FILE_EDIT, what, line, changes=changes, paths=paths, status=status)


def _message(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    return entry(EntryKind.MESSAGE, as_text(item.get("text")), line)


def _reasoning(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    return entry(EntryKind.MESSAGE, as_text(item.get("text")), line, thinking=True)


def _mcp_call(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    name = f"{as_text(item.get('server'))}.{as_text(item.get('tool'))}"
    if not done:
        arguments = item.get("arguments")
        return entry(EntryKind.TOOL_CALL, f"{name}: {shorten(compact_json(arguments))}", line,
                     tool=name, input=arguments)
    error = as_dict(item.get("error"))
    result = error.get("message") or item.get("result")
    text = result if isinstance(result, str) else compact_json(result)
    return entry(EntryKind.TOOL_RESULT, f"{name}: {text}", line, tool=name,
                 is_error=bool(error) or item.get("status") == "failed")


def _web_search(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    query = as_text(item.get("query"))
    return entry(EntryKind.TOOL_CALL, f"web search: {query}", line, tool="web_search",
                 input={"query": query})


def _todo_list(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    steps = [as_dict(s) for s in as_list(item.get("items"))]
    rows = [f"[{'x' if s.get('completed') else ' '}] {as_text(s.get('text'))}" for s in steps]
    return entry(EntryKind.MESSAGE, "plan:\n" + "\n".join(rows), line, plan=steps)


def _item_error(item: dict[str, Any], done: bool, line: str) -> ParsedEntry:
    return entry(EntryKind.ERROR, as_text(item.get("message")) or "error", line)


_ITEMS: dict[str, Callable[[dict[str, Any], bool, str], ParsedEntry]] = {
    "command_execution": _command,
    "file_change": _file_change,
    "agent_message": _message,
    "reasoning": _reasoning,
    "mcp_tool_call": _mcp_call,
    "web_search": _web_search,
    "todo_list": _todo_list,
    "error": _item_error,
}

_HANDLERS: dict[str, Callable[[dict[str, Any], str], ParsedEntry]] = {
    "thread.started": _thread_started,
    "turn.started": _turn_started,
    "turn.failed": _turn_failed,
    "error": _error,
    "item.started": _item,
    "item.updated": _item,
    "item.completed": _item,
}
