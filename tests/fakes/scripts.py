"""What a scripted LLM says: replies (text, tool calls, usage) and faults.

A test builds a list of these and hands it to `LLMServer.enqueue`; the server answers
each incoming request with the next item, in the wire format of the endpoint that was
called (OpenAI Chat Completions, Anthropic Messages or OpenAI Responses). Everything
here is plain data, so one script can drive any of the three API flavours.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    """A fresh id such as ``call_7`` (unique within the test process)."""
    return f"{prefix}_{next(_ids)}"


@dataclass(frozen=True)
class ToolCall:
    """The model asks to call tool ``name`` with ``arguments``.

    ``arguments`` is a dict (sent as JSON) or a string sent verbatim, which lets a test
    send arguments that are not valid JSON. ``custom=True`` makes it a free-form
    ``custom_tool_call`` on the Responses API (Codex's ``apply_patch``); elsewhere it is
    an ordinary function call.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str = ""
    custom: bool = False

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)

    def with_id(self, prefix: str) -> "ToolCall":
        """This call with an id (kept if the test chose one)."""
        if self.id:
            return self
        return ToolCall(self.name, self.arguments, next_id(prefix), self.custom)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 10
    output_tokens: int = 5


@dataclass(frozen=True)
class Reply:
    """One assistant turn.

    Args:
        text: assistant text (may be empty when only tools are called).
        tool_calls: tools the model calls, in order.
        usage: token counts reported for this turn.
        stop_reason: Anthropic-style reason (``end_turn``, ``tool_use``, ``max_tokens``);
            derived from ``tool_calls`` when empty and mapped per API flavour.
        chunk: the text and tool arguments are streamed in pieces of this many characters.
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    stop_reason: str = ""
    chunk: int = 8

    @property
    def reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if self.tool_calls else "end_turn"


@dataclass(frozen=True)
class Fault:
    """A failure the server plays instead of a reply.

    Kinds:
        ``status``: an HTTP error ``status`` with an API-style error body carrying
            ``message``, plus ``headers`` (e.g. ``Retry-After``).
        ``hang``: accept the request and send nothing (``after`` None), or send the
            stream headers and ``after`` events, then stall until the server is
            released or closed; the connection is then dropped.
        ``malformed``: a 200 whose JSON body (or first stream event) does not parse.
        ``cut``: a stream that stops after ``after`` events without its final event and
            without the terminating chunk: the client sees a broken body.
        ``cut_event``: a stream sent without HTTP framing (no chunks, no length: its end is
            the connection's close, a clean end to HTTP) that closes inside an event:
            after ``after`` whole events (negative: all but that many), the first ``keep``
            bytes of the next one (negative: all but that many; None: half of it).
    """

    kind: str
    status: int = 200
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    after: int | None = None
    keep: int | None = None


Item = Reply | Fault


def reply(text: str = "", *calls: ToolCall, input_tokens: int = 10, output_tokens: int = 5,
          stop_reason: str = "") -> Reply:
    """A reply with optional text, tool calls and usage."""
    return Reply(text, tuple(calls), Usage(input_tokens, output_tokens), stop_reason)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *,
              id: str = "", custom: bool = False) -> ToolCall:
    """A tool call; ``arguments`` defaults to ``{}``."""
    return ToolCall(name, {} if arguments is None else arguments, id, custom)


def error_status(status: int = 500, message: str = "internal error",
                 headers: dict[str, str] | None = None) -> Fault:
    """An HTTP error response (500, 401, 529, ...)."""
    return Fault("status", status, message, tuple((headers or {}).items()))


def rate_limited(retry_after: str | float | None = 1, message: str = "rate limited") -> Fault:
    """A 429; ``retry_after`` (seconds, or an HTTP date string) becomes ``Retry-After``."""
    headers = {} if retry_after is None else {"Retry-After": _header_value(retry_after)}
    return error_status(429, message, headers)


def hang(after: int | None = None) -> Fault:
    """No answer at all (``after`` None) or a stream that stalls after ``after`` events."""
    return Fault("hang", after=after)


def malformed() -> Fault:
    """A success status whose body is not valid JSON."""
    return Fault("malformed")


def cut(after: int = 2) -> Fault:
    """A stream broken off after ``after`` events (non-stream requests: after the headers)."""
    return Fault("cut", after=after)


def cut_mid_event(after: int = 2, keep: int | None = None) -> Fault:
    """A stream whose connection closes inside an event, before its blank line.

    ``cut_mid_event(3, 20)`` cuts 20 bytes into the fourth event (inside its JSON);
    ``cut_mid_event(-1, -1)`` sends every line of the stream's last event (``[DONE]`` or
    ``message_stop``) but not the blank line that completes it.
    """
    return Fault("cut_event", after=after, keep=keep)


def _header_value(value: str | float) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)
