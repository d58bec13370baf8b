"""Gemini API wire format (``POST /v1beta/models/MODEL:generateContent`` and
``...:streamGenerateContent?alt=sse``) for a scripted reply; Gemini CLI speaks it.

A reply is a ``GenerateContentResponse``: one candidate whose ``content`` (role ``model``)
has a ``text`` part and a ``functionCall`` part per tool call (``name`` and ``args``, an
object), a ``finishReason`` and ``usageMetadata`` (``promptTokenCount``,
``candidatesTokenCount``). Streaming sends the same objects as unnamed SSE ``data:``
events: the text in pieces, each function call whole (as the real API does), and the last
event with ``finishReason`` and the usage; there is no ``[DONE]``. The model is named in
the path, not the body, and whether to stream too: `is_stream` tells.
"""
from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.scripts import Reply, ToolCall
from tests.fakes.wire_chat import pieces

Event = tuple[str | None, Any]

#: ``/v1beta/models/gemini-2.5-pro:streamGenerateContent`` → model, method.
PATH = re.compile(r"^/v1(?:beta|alpha)?/models/(?P<model>[^/:]+):(?P<method>\w+)$")
METHODS = ("generateContent", "streamGenerateContent")
_FINISH = {"max_tokens": "MAX_TOKENS"}


def is_stream(path: str) -> bool:
    """Whether a request to ``path`` wants the SSE stream."""
    found = PATH.match(path)
    return bool(found and found["method"] == "streamGenerateContent")


def with_model(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with ``model`` set from a Gemini path (where the API names it), so a reply
    names its ``modelVersion`` as the others name their model; other bodies as they are."""
    found = PATH.match(path)
    return {**body, "model": found["model"]} if found else body


def _args(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments_json)
    except ValueError:
        return call.arguments_json


def _usage(reply: Reply) -> dict[str, int]:
    u = reply.usage
    return {"promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens,
            "totalTokenCount": u.input_tokens + u.output_tokens}


def _response(parts: list[dict[str, Any]], reply: Reply, request: dict[str, Any],
              last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    response: dict[str, Any] = {"candidates": [candidate], "responseId": "resp_fake",
                                "modelVersion": request.get("model", "")}
    if last:
        candidate["finishReason"] = _FINISH.get(reply.reason, "STOP")
        response["usageMetadata"] = _usage(reply)
    return response


def _call_parts(reply: Reply) -> list[dict[str, Any]]:
    return [{"functionCall": {"name": c.name, "args": _args(c)}} for c in reply.tool_calls]


def stream_events(reply: Reply, request: dict[str, Any]) -> list[Event]:
    """The SSE events answering ``streamGenerateContent``."""
    parts = [[{"text": piece}] for piece in pieces(reply.text, reply.chunk)]
    parts += [[call] for call in _call_parts(reply)]
    if not parts:
        parts = [[{"text": ""}]]
    return [(None, _response(p, reply, request, i == len(parts) - 1)) for i, p in enumerate(parts)]


def body(reply: Reply, request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body answering ``generateContent``."""
    parts = ([{"text": reply.text}] if reply.text else []) + _call_parts(reply)
    return _response(parts or [{"text": ""}], reply, request, True)


def error_body(status: int, message: str) -> dict[str, Any]:
    """A Google API error object."""
    kind = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 400: "INVALID_ARGUMENT",
            404: "NOT_FOUND", 403: "PERMISSION_DENIED"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": kind}}
