"""Client for OpenAI-compatible Chat Completions (OpenAI, OpenRouter, Ollama, LM Studio...)."""
from __future__ import annotations

import json
from typing import Any, Sequence
from urllib.parse import urlsplit

from agentdeck.engine.llm.errors import LLMError, LLMProtocolError
from agentdeck.engine.llm.client import HTTPLLMClient, StreamFailure, error_message, incomplete, parse_json
from agentdeck.engine.llm.sse import SSEvent
from agentdeck.engine.llm.types import LLMResponse, Message, TextCallback, ToolCall, ToolSpec, Usage

_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use",
         "length": "max_tokens"}


class OpenAIChatClient(HTTPLLMClient):
    """``POST {base_url}/chat/completions`` with ``stream: true``.

    ``token_param`` names the output limit field: OpenAI's own API wants
    ``max_completion_tokens`` (its reasoning models reject ``max_tokens``), while most
    compatible servers only know ``max_tokens``; the default picks by host. Other
    keyword options are those of `HTTPLLMClient`.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 token_param: str | None = None, **options: Any) -> None:
        super().__init__(base_url, api_key, **options)
        official = urlsplit(self.base_url).hostname == "api.openai.com"
        self.token_param = token_param or ("max_completion_tokens" if official else "max_tokens")

    def _url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], model: str,
              max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model, "messages": [_wire_message(m) for m in messages],
            "stream": True, "stream_options": {"include_usage": True},
            self.token_param: max_tokens,
        }
        if tools:
            body["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in tools]
        return body

    def _parser(self, on_text_delta: TextCallback | None) -> "_ChatStream":
        return _ChatStream(on_text_delta)


def _wire_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {"role": "assistant", "content": message.content or None, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.invalid_args or json.dumps(c.args)}}
            for c in message.tool_calls]}
    return {"role": message.role, "content": message.content}


class _ChatStream:
    """Accumulates ``chat.completion.chunk`` events into one reply."""

    def __init__(self, on_text: TextCallback | None) -> None:
        self._on_text = on_text
        self._text: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._finish: str | None = None
        self._usage = Usage()
        self.done = False

    def feed(self, event: SSEvent) -> None:
        if event.data.strip() == "[DONE]":
            self.done = True
            return
        chunk = parse_json(event.data)
        if not isinstance(chunk, dict):
            raise StreamFailure(LLMProtocolError, f"unexpected stream data: {event.data[:300]!r}")
        if chunk.get("error"):
            raise StreamFailure(LLMError, f"the server reported: {error_message(chunk)}")
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
            self._usage = Usage(int(usage.get("prompt_tokens") or 0),
                                int(usage.get("completion_tokens") or 0))
        for choice in chunk.get("choices") or []:
            self._feed_delta(choice.get("delta") or {})
            self._finish = choice.get("finish_reason") or self._finish

    def _feed_delta(self, delta: dict[str, Any]) -> None:
        if delta.get("content"):
            self._text.append(delta["content"])
            if self._on_text is not None:
                self._on_text(delta["content"])
        for piece in delta.get("tool_calls") or []:
            slot = self._calls.setdefault(piece.get("index", len(self._calls)),
                                          {"id": "", "name": "", "args": ""})
            function = piece.get("function") or {}
            slot["id"] = piece.get("id") or slot["id"]
            slot["name"] = function.get("name") or slot["name"]
            slot["args"] += function.get("arguments") or ""

    def result(self) -> LLMResponse:
        # A finish_reason without [DONE] is accepted (some local servers never send it);
        # a close inside an event never gets here (see HTTPLLMClient._read_stream).
        if not self.done and self._finish is None:
            raise incomplete("its finish_reason / [DONE]")
        calls = [ToolCall.from_json(slot["id"] or f"call_{index}", slot["name"], slot["args"])
                 for index, slot in sorted(self._calls.items())]
        reason = _STOP.get(self._finish or "stop", self._finish or "")
        if calls and reason == "end_turn":  # some local servers say "stop" after tool calls
            reason = "tool_use"
        return LLMResponse("".join(self._text), calls, self._usage, reason)
