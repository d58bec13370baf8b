"""OpenAI Chat Completions wire format (``POST /v1/chat/completions``) for a scripted reply.

Streaming follows the real API: ``data: {chunk}`` lines whose ``choices[0].delta``
carries the role, then content pieces, then ``tool_calls`` pieces (the first piece of a
call has its id, type and name, later ones only ``function.arguments`` fragments, all
keyed by ``index``); a chunk with ``finish_reason``; when the request asked for
``stream_options.include_usage`` a last chunk with empty ``choices`` and ``usage``; and
``data: [DONE]``.
"""
from __future__ import annotations

import time
from typing import Any

from tests.fakes.scripts import Reply, next_id

Event = tuple[str | None, Any]

_FINISH = {"tool_use": "tool_calls", "end_turn": "stop", "max_tokens": "length",
           "stop_sequence": "stop"}


def pieces(text: str, size: int) -> list[str]:
    """``text`` cut into pieces of ``size`` characters (none for empty text)."""
    return [text[i:i + size] for i in range(0, len(text), max(size, 1))]


def _usage(reply: Reply) -> dict[str, int]:
    u = reply.usage
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens}


def stream_events(reply: Reply, request: dict[str, Any]) -> list[Event]:
    """The SSE events (unnamed, ``data:`` only) answering a streaming request."""
    base = {"id": next_id("chatcmpl"), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": request.get("model", "")}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return None, {**base, "choices": [choice]}

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces(reply.text, reply.chunk)]
    for index, call in enumerate(c.with_id("call") for c in reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": ""}}
        events.append(chunk({"tool_calls": [head]}))
        for piece in pieces(call.arguments_json, reply.chunk):
            events.append(chunk({"tool_calls": [{"index": index,
                                                 "function": {"arguments": piece}}]}))
    events.append(chunk({}, _FINISH.get(reply.reason, "stop")))
    if (request.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**base, "choices": [], "usage": _usage(reply)}))
    events.append((None, "[DONE]"))
    return events


def body(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body answering a non-streaming request."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments_json}}
            for c in (call.with_id("call") for call in reply.tool_calls)
        ]
    return {
        "id": next_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": _FINISH.get(reply.reason, "stop")}],
        "usage": _usage(reply),
    }


def error_body(status: int, message: str) -> dict[str, Any]:
    """An OpenAI-style error object."""
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
