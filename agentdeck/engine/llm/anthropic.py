"""Client for the Anthropic Messages API (and servers that copy it)."""
from __future__ import annotations

from typing import Any, Sequence

from agentdeck.engine.llm.errors import LLMError, LLMProtocolError
from agentdeck.engine.llm.client import HTTPLLMClient, StreamFailure, error_message, incomplete, parse_json
from agentdeck.engine.llm.sse import SSEvent
from agentdeck.engine.llm.types import LLMResponse, Message, TextCallback, ToolCall, ToolSpec, Usage

API_VERSION = "2023-06-01"
_RETRY_ERRORS = {"overloaded_error", "api_error", "rate_limit_error"}


class AnthropicClient(HTTPLLMClient):
    """``POST {base_url}/v1/messages`` with ``stream: true``.

    ``base_url`` may be given with or without the ``/v1`` suffix
    (``https://api.anthropic.com`` as in ``ANTHROPIC_BASE_URL``, or ``.../v1``).
    Keyword options are those of `HTTPLLMClient`.
    """

    def _url(self) -> str:
        suffix = "/messages" if self.base_url.endswith("/v1") else "/v1/messages"
        return self.base_url + suffix

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "anthropic-version": API_VERSION}
        if self._key:
            headers["x-api-key"] = self._key
        return headers

    def _body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], model: str,
              max_tokens: int) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "stream": True,
                                "messages": wire_messages(messages)}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [{"name": t.name, "description": t.description,
                              "input_schema": t.parameters} for t in tools]
        return body

    def _parser(self, on_text_delta: TextCallback | None) -> "_MessagesStream":
        return _MessagesStream(on_text_delta)


def wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages API turns: tool results become ``tool_result`` blocks of a user turn, and
    consecutive turns of one role are merged, since the API wants them alternating."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id,
                 "content": message.content or "(no output)", "is_error": message.is_error}]
    blocks: list[dict[str, Any]] = []
    if message.content or not message.tool_calls:
        blocks.append({"type": "text", "text": message.content or "(empty)"})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args}
               for c in message.tool_calls]
    return blocks


class _MessagesStream:
    """Accumulates Messages API stream events into one reply."""

    def __init__(self, on_text: TextCallback | None) -> None:
        self._on_text = on_text
        self._blocks: dict[int, dict[str, Any]] = {}
        self._input = self._output = 0
        self._stop = ""
        self.done = False

    def feed(self, event: SSEvent) -> None:
        data = parse_json(event.data)
        if not isinstance(data, dict):
            raise StreamFailure(LLMProtocolError, f"unexpected stream data: {event.data[:300]!r}")
        kind = data.get("type") or event.event
        handler = getattr(self, "_on_" + str(kind), None)
        if handler is not None:
            handler(data)

    def _on_message_start(self, data: dict[str, Any]) -> None:
        self._count((data.get("message") or {}).get("usage") or {})

    def _on_content_block_start(self, data: dict[str, Any]) -> None:
        block = dict(data.get("content_block") or {})
        block["json"] = ""
        self._blocks[int(data.get("index", len(self._blocks)))] = block

    def _on_content_block_delta(self, data: dict[str, Any]) -> None:
        block = self._blocks.setdefault(int(data.get("index", 0)), {"type": "text", "json": ""})
        delta = data.get("delta") or {}
        if delta.get("type") == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
            if self._on_text is not None and delta.get("text"):
                self._on_text(delta["text"])
        elif delta.get("type") == "input_json_delta":
            block["json"] += delta.get("partial_json", "")

    def _on_message_delta(self, data: dict[str, Any]) -> None:
        self._stop = (data.get("delta") or {}).get("stop_reason") or self._stop
        self._count(data.get("usage") or {})

    def _on_message_stop(self, data: dict[str, Any]) -> None:
        self.done = True

    def _on_error(self, data: dict[str, Any]) -> None:
        kind = (data.get("error") or {}).get("type", "")
        raise StreamFailure(LLMError, f"the server reported {kind or 'an error'}: "
                            f"{error_message(data)}", retry=kind in _RETRY_ERRORS)

    def _count(self, usage: dict[str, Any]) -> None:
        """Input counts arrive in message_start (and again in newer message_deltas);
        output counts are cumulative, so the last one wins."""
        if "input_tokens" in usage:
            self._input = sum(int(usage.get(k) or 0) for k in (
                "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        if "output_tokens" in usage:
            self._output = int(usage["output_tokens"] or 0)

    def result(self) -> LLMResponse:
        if not self.done:
            raise incomplete("message_stop")
        text, calls = [], []
        for _, block in sorted(self._blocks.items()):
            if block.get("type") == "text":
                text.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                raw = block["json"] or "{}"
                calls.append(ToolCall.from_json(block.get("id", ""), block.get("name", ""), raw))
        return LLMResponse("".join(text), calls, Usage(self._input, self._output),
                           self._stop or "end_turn")
