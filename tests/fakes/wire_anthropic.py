"""Anthropic Messages wire format (``POST /v1/messages``) for a scripted reply.

Streaming follows the real API: named SSE events ``message_start`` (the message with
empty content and the input token count), ``ping``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta`` for text,
``input_json_delta`` with ``partial_json`` for tool input) / ``content_block_stop``, then
``message_delta`` (``stop_reason`` and the cumulative output token count) and
``message_stop``.
"""
from __future__ import annotations

import json
from typing import Any

from tests.fakes.scripts import Reply, ToolCall, next_id
from tests.fakes.wire_chat import pieces

Event = tuple[str | None, Any]


def _message(reply: Reply, request: dict[str, Any], content: list[Any],
             stop_reason: str | None, output_tokens: int) -> dict[str, Any]:
    return {
        "id": next_id("msg"), "type": "message", "role": "assistant",
        "model": request.get("model", ""), "content": content,
        "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": reply.usage.input_tokens, "output_tokens": output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def _tool_input(call: ToolCall) -> Any:
    """Anthropic sends tool input as an object; a non-JSON script string stays a string."""
    try:
        return json.loads(call.arguments_json)
    except ValueError:
        return call.arguments_json


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in (c.with_id("toolu") for c in reply.tool_calls):
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                       "input": _tool_input(call), "_json": call.arguments_json})
    return blocks


def stream_events(reply: Reply, request: dict[str, Any]) -> list[Event]:
    """The named SSE events answering a streaming request."""
    events: list[Event] = [
        ("message_start", {"type": "message_start",
                           "message": _message(reply, request, [], None, 1)}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(_blocks(reply)):
        if block["type"] == "text":
            start, deltas = {"type": "text", "text": ""}, [
                {"type": "text_delta", "text": p} for p in pieces(block["text"], reply.chunk)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p}
                      for p in pieces(block["_json"], reply.chunk)]
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": start}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index,
                                            "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": reply.reason, "stop_sequence": None},
        "usage": {"output_tokens": reply.usage.output_tokens}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def body(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body answering a non-streaming request."""
    content = [{k: v for k, v in b.items() if k != "_json"} for b in _blocks(reply)]
    return _message(reply, request, content, reply.reason, reply.usage.output_tokens)


def error_body(status: int, message: str) -> dict[str, Any]:
    """An Anthropic-style error object."""
    kind = {429: "rate_limit_error", 401: "authentication_error", 400: "invalid_request_error",
            529: "overloaded_error", 404: "not_found_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}
