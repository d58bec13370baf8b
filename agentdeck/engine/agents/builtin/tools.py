"""The built-in agent's tools: their schemas for the model and what each one does.

Every tool works through a `ToolHost`, so the same tools serve a local working copy and
a container. A failing tool never raises: its error text goes back to the model (which
can correct itself) and into the log.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from agentdeck.engine.agents.builtin.host import MissingFile, ToolError, ToolHost
from agentdeck.engine.llm.types import ToolCall, ToolSpec
from agentdeck.engine.models import EntryKind, ParsedEntry

READ_LINES = 400
LIST_LIMIT = 1000
SEARCH_LIMIT = 200
SEARCH_MAX_BYTES = 2 * 1024 * 1024
#: Files read per host call while searching (one archive for a container).
SEARCH_BATCH = 500
RUN_TIMEOUT, RUN_TIMEOUT_MAX = 120, 1800
LOG_ARG_CHARS = 2000


def _spec(name: str, description: str, required: dict[str, str],
          optional: dict[str, str] | None = None) -> ToolSpec:
    """A tool schema; argument names map to "type: description"."""
    props = {}
    for arg, text in {**required, **(optional or {})}.items():
        kind, _, about = text.partition(": ")
        props[arg] = {"type": kind, "description": about}
    return ToolSpec(name, description, {"type": "object", "properties": props,
                                        "required": list(required)})


TOOL_SPECS = [
    _spec("read_file", f"Read a text file; lines come numbered, {READ_LINES} at a time.",
          {"path": "string: file path relative to the repository root"},
          {"offset": "integer: first line to read (1-based)",
           "limit": "integer: how many lines to read"}),
    _spec("write_file", "Create a file or replace its whole content.",
          {"path": "string: file path", "content": "string: the complete new content"}),
    _spec("edit_file", "Replace one exact occurrence of `old` with `new` in a file. `old` must "
          "match exactly once (whitespace included); add surrounding lines to make it unique.",
          {"path": "string: file path", "old": "string: exact text to replace",
           "new": "string: replacement text"}),
    _spec("list_files", "List files (recursively; .git left out), optionally filtered by a "
          "glob such as '*.py' or 'src/*'.", {},
          {"path": "string: directory (default: the root)", "glob": "string: filter pattern"}),
    _spec("search", f"Search file contents with a Python regular expression; gives "
          f"path:line: text, at most {SEARCH_LIMIT} matches.",
          {"pattern": "string: regular expression"},
          {"path": "string: directory or file to search (default: the root)",
           "glob": "string: only files matching this pattern"}),
    _spec("run", "Run a shell command in the repository root (non-interactive; stdout and "
          "stderr merged, long output shortened in the middle).",
          {"command": "string: the shell command"},
          {"timeout": f"integer: seconds before it is killed (default {RUN_TIMEOUT})"}),
    _spec("finish", "Call when the task is done, with a short summary of what you changed.",
          {"summary": "string: what was done"}),
]
_SPECS = {spec.name: spec for spec in TOOL_SPECS}
_TYPES = {"string": str, "integer": int}


@dataclass
class ToolOutcome:
    """What a tool call gave: text for the model, entries for the log, ``summary`` if done."""

    text: str
    is_error: bool = False
    entries: list[ParsedEntry] = field(default_factory=list)
    summary: str | None = None


def call_entry(call: ToolCall) -> ParsedEntry:
    """The TOOL_CALL log entry; long argument values are shortened for the log only."""
    args = {k: _shorten(v) for k, v in call.args.items()}
    shown = ", ".join(f"{k}={json.dumps(v)[:80]}" for k, v in args.items())
    return ParsedEntry(EntryKind.TOOL_CALL, f"{call.name}({shown})",
                       {"name": call.name, "args": args})


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LOG_ARG_CHARS:
        return value[:LOG_ARG_CHARS] + f"… [{len(value) - LOG_ARG_CHARS} more characters]"
    return value


class Toolbox:
    """Runs tool calls against one host."""

    def __init__(self, host: ToolHost, *, run_timeout: float = RUN_TIMEOUT) -> None:
        self.host = host
        self.run_timeout = run_timeout
        self._tools: dict[str, Callable[..., Awaitable[ToolOutcome]]] = {
            "read_file": self.read_file, "write_file": self.write_file,
            "edit_file": self.edit_file, "list_files": self.list_files,
            "search": self.search, "run": self.run, "finish": self.finish}

    async def dispatch(self, call: ToolCall) -> ToolOutcome:
        """Check the call's arguments, run the tool, and turn failures into error outcomes."""
        try:
            args = _checked_args(call)
            return await self._tools[call.name](**args)
        except ToolError as exc:
            text = f"{call.name} failed: {exc}"
            return ToolOutcome(text, True, [ParsedEntry(
                EntryKind.TOOL_RESULT, text, {"name": call.name, "ok": False})])

    async def read_file(self, path: str, offset: int = 1, limit: int = READ_LINES) -> ToolOutcome:
        data = await self.host.read(path)
        if b"\0" in data[:8192]:
            return _result("read_file", f"{path} is a binary file ({len(data)} bytes)")
        lines = data.decode("utf-8", "replace").splitlines()
        start = max(offset, 1)
        chunk = lines[start - 1: start - 1 + max(limit, 1)]
        body = "\n".join(f"{start + i:6}\t{line}" for i, line in enumerate(chunk))
        end = start + len(chunk) - 1
        if start > 1 or end < len(lines):
            body += f"\n[lines {start}-{end} of {len(lines)}; use offset to read further]"
        return _result("read_file", body or f"{path} is empty",
                       f"read {path} lines {start}-{end} of {len(lines)}")

    async def write_file(self, path: str, content: str) -> ToolOutcome:
        try:
            await self.host.read(path)
            kind = "modified"
        except MissingFile:
            kind = "created"
        await self.host.write(path, content.encode())
        return _edited(path, kind, f"wrote {len(content)} characters to {path} ({kind})")

    async def edit_file(self, path: str, old: str, new: str) -> ToolOutcome:
        if not old:
            raise ToolError("`old` is empty; give the exact text to replace")
        text = (await self.host.read(path)).decode("utf-8", "replace")
        count = text.count(old)
        if count == 0:
            raise ToolError(f"the text to replace was not found in {path} (it must match "
                            "exactly, whitespace included; read the file again)")
        if count > 1:
            raise ToolError(f"the text to replace occurs {count} times in {path}; include "
                            "more surrounding lines so it occurs once")
        await self.host.write(path, text.replace(old, new, 1).encode())
        return _edited(path, "modified", f"replaced 1 occurrence in {path}")

    async def list_files(self, path: str = ".", glob: str = "") -> ToolOutcome:
        files = [f for f in await self.host.walk(path) if _matches(f, glob)]
        body = "\n".join(files[:LIST_LIMIT]) or "(no files)"
        if len(files) > LIST_LIMIT:
            body += f"\n[{len(files) - LIST_LIMIT} more files; narrow with path or glob]"
        return _result("list_files", body, f"listed {len(files)} files under {path}")

    async def search(self, pattern: str, path: str = ".", glob: str = "") -> ToolOutcome:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad regular expression {pattern!r}: {exc}") from None
        names = [name for name in await self.host.walk(path) if _matches(name, glob)]
        hits: list[str] = []
        for start in range(0, len(names), SEARCH_BATCH):
            if len(hits) >= SEARCH_LIMIT:
                break
            batch = await self.host.read_many(names[start:start + SEARCH_BATCH],
                                              SEARCH_MAX_BYTES)
            for name, data in batch:
                hits += _matching_lines(regex, name, data)[:SEARCH_LIMIT - len(hits)]
        body = "\n".join(hits) or "no matches"
        if len(hits) >= SEARCH_LIMIT:
            body += f"\n[stopped at {SEARCH_LIMIT} matches; narrow the search]"
        return _result("search", body, f"search {pattern!r}: {len(hits)} matches")

    async def run(self, command: str, timeout: int = RUN_TIMEOUT) -> ToolOutcome:
        seconds = min(max(timeout, 1), RUN_TIMEOUT_MAX)
        code, output = await self.host.exec(command, seconds)
        entry = ParsedEntry(EntryKind.COMMAND, f"$ {command}",
                            {"command": command, "exit_code": code, "output": output})
        return ToolOutcome(f"exit code {code}\n{output}", False, [entry])

    async def finish(self, summary: str) -> ToolOutcome:
        return ToolOutcome("ok", summary=summary)


def _checked_args(call: ToolCall) -> dict[str, Any]:
    spec = _SPECS.get(call.name)
    if spec is None:
        raise ToolError(f"there is no tool {call.name!r}; use one of {', '.join(_SPECS)}")
    if call.invalid_args is not None:
        raise ToolError(f"the arguments were not a JSON object: {call.invalid_args[:200]!r}")
    props = spec.parameters["properties"]
    for name in spec.parameters["required"]:
        if name not in call.args:
            raise ToolError(f"missing argument {name!r}")
    for name, value in call.args.items():
        if name not in props:
            raise ToolError(f"unknown argument {name!r}; known: {', '.join(props)}")
        kind = _TYPES[props[name]["type"]]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ToolError(f"argument {name!r} must be a {props[name]['type']}")
    return dict(call.args)


def _matching_lines(regex: re.Pattern[str], name: str, data: bytes) -> list[str]:
    if b"\0" in data[:8192]:
        return []  # binary
    lines = data.decode("utf-8", "replace").splitlines()
    return [f"{name}:{n}: {line[:200]}" for n, line in enumerate(lines, 1) if regex.search(line)]


def _matches(path: str, glob: str) -> bool:
    return not glob or fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], glob)


def _result(name: str, text: str, summary: str | None = None) -> ToolOutcome:
    entry = ParsedEntry(EntryKind.TOOL_RESULT, summary or text[:200], {"name": name, "ok": True})
    return ToolOutcome(text, False, [entry])


def _edited(path: str, kind: str, text: str) -> ToolOutcome:
    return ToolOutcome(text, False, [ParsedEntry(EntryKind.FILE_EDIT, f"{kind} {path}",
                                                 {"path": path, "kind": kind})])
