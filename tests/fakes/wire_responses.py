"""OpenAI Responses wire format (``POST /v1/responses``), the API the Codex CLI speaks.

Streaming follows the real API: named SSE events, each payload with its ``type`` and a
rising ``sequence_number``: ``response.created``, ``response.in_progress``, then per
output item ``response.output_item.added``, its deltas (``response.content_part.added``,
``response.output_text.delta``, ``response.output_text.done``,
``response.content_part.done`` for a message; ``response.function_call_arguments.delta``
/ ``.done`` for a function call; ``response.custom_tool_call_input.delta`` / ``.done``
for a custom tool call) and ``response.output_item.done``; finally
``response.completed`` (or ``response.incomplete`` for ``max_tokens``) carrying the
whole response with ``usage``. There is no ``[DONE]`` sentinel.
"""
from __future__ import annotations

import itertools
import time
from typing import Any, Callable

from tests.fakes.scripts import Reply, ToolCall, next_id
from tests.fakes.wire_chat import error_body, pieces

Event = tuple[str | None, Any]


def _usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    return {"input_tokens": u.input_tokens, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": u.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": u.input_tokens + u.output_tokens}


def _response(rid: str, request: dict[str, Any], status: str, output: list[Any],
              usage: dict[str, Any] | None) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {"id": rid, "object": "response", "created_at": int(time.time()), "status": status,
            "error": None, "incomplete_details": incomplete, "model": request.get("model", ""),
            "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "usage": usage}


def _message_item(text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if status else []
    return {"id": next_id("msg"), "type": "message", "role": "assistant",
            "status": status or "in_progress", "content": content}


def _call_item(call: ToolCall, done: bool) -> dict[str, Any]:
    body = call.arguments_json if done else ""
    if call.custom:
        return {"id": next_id("ctc"), "type": "custom_tool_call", "call_id": call.id,
                "name": call.name, "input": body}
    return {"id": next_id("fc"), "type": "function_call", "call_id": call.id,
            "name": call.name, "arguments": body,
            "status": "completed" if done else "in_progress"}


def _items(reply: Reply) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(item while added, item when done, full text of its deltas) per output item."""
    out = []
    if reply.text:
        done = _message_item(reply.text, "completed")
        out.append(({**_message_item("", ""), "id": done["id"]}, done, reply.text))
    for call in (c.with_id("call") for c in reply.tool_calls):
        done = _call_item(call, True)
        out.append(({**_call_item(call, False), "id": done["id"]}, done, call.arguments_json))
    return out


def _item_deltas(ev: Callable[..., Event], index: int, added: dict[str, Any], full: str,
                 size: int) -> list[Event]:
    item = {"item_id": added["id"], "output_index": index}
    if added["type"] == "message":
        part = {"item_id": added["id"], "output_index": index, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": []}
        return ([ev("response.content_part.added", **part, part=empty)]
                + [ev("response.output_text.delta", **part, delta=p) for p in pieces(full, size)]
                + [ev("response.output_text.done", **part, text=full),
                   ev("response.content_part.done", **part, part={**empty, "text": full})])
    prefix = ("response.custom_tool_call_input" if added["type"] == "custom_tool_call"
              else "response.function_call_arguments")
    done_key = "input" if added["type"] == "custom_tool_call" else "arguments"
    return ([ev(f"{prefix}.delta", **item, delta=p) for p in pieces(full, size)]
            + [ev(f"{prefix}.done", **item, **{done_key: full})])


def stream_events(reply: Reply, request: dict[str, Any]) -> list[Event]:
    """The named SSE events answering a streaming request."""
    seq = itertools.count()

    def ev(kind: str, **fields: Any) -> Event:
        return kind, {"type": kind, "sequence_number": next(seq), **fields}

    rid = next_id("resp")
    events = [ev("response.created", response=_response(rid, request, "in_progress", [], None)),
              ev("response.in_progress",
                 response=_response(rid, request, "in_progress", [], None))]
    finished = []
    for index, (added, done, full) in enumerate(_items(reply)):
        events.append(ev("response.output_item.added", output_index=index, item=added))
        events += _item_deltas(ev, index, added, full, reply.chunk)
        events.append(ev("response.output_item.done", output_index=index, item=done))
        finished.append(done)
    status = "incomplete" if reply.reason == "max_tokens" else "completed"
    events.append(ev(f"response.{status}",
                     response=_response(rid, request, status, finished, _usage(reply))))
    return events


def body(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body answering a non-streaming request."""
    status = "incomplete" if reply.reason == "max_tokens" else "completed"
    output = [done for _, done, _ in _items(reply)]
    return _response(next_id("resp"), request, status, output, _usage(reply))


__all__ = ["body", "error_body", "stream_events"]
