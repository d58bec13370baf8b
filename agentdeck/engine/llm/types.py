"""Provider-neutral request and response shapes shared by all LLM clients."""
from __future__ import annotations

import json

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from agentdeck.engine.llm.retry import RetryCallback

TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class ToolCall:
    """The model asks to run tool ``name`` with ``args``.

    ``invalid_args`` holds the raw argument text when the model sent something that is
    not a JSON object (``args`` is then empty), so the caller can tell the model so.
    """

    id: str
    name: str
    args: dict[str, Any]
    invalid_args: str | None = None

    @classmethod
    def from_json(cls, call_id: str, name: str, raw: str) -> "ToolCall":
        """A call whose arguments arrived as JSON text (empty text means no arguments)."""
        try:
            args = json.loads(raw) if raw.strip() else {}
        except ValueError:
            args = None
        if not isinstance(args, dict):
            return cls(call_id, name, {}, invalid_args=raw)
        return cls(call_id, name, args)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: name, what it does, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One conversation turn.

    ``role`` is ``system``, ``user``, ``assistant`` (``content`` plus ``tool_calls``) or
    ``tool`` (the result of the call ``tool_call_id``; ``is_error`` when it failed).
    """

    role: str
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    is_error: bool = False

    @classmethod
    def system(cls, text: str) -> "Message":
        return cls("system", text)

    @classmethod
    def user(cls, text: str) -> "Message":
        return cls("user", text)

    @classmethod
    def assistant(cls, text: str, tool_calls: Sequence[ToolCall] = ()) -> "Message":
        return cls("assistant", text, tuple(tool_calls))

    @classmethod
    def tool_result(cls, call_id: str, text: str, is_error: bool = False) -> "Message":
        return cls("tool", text, tool_call_id=call_id, is_error=is_error)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class LLMResponse:
    """One assistant turn.

    ``stop_reason`` is normalised across APIs: ``end_turn``, ``tool_use``,
    ``max_tokens``, or the provider's own word for anything else.
    """

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = Usage()
    stop_reason: str = "end_turn"


class ChatClient(Protocol):
    """What the built-in agent needs from an LLM API."""

    async def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec], *,
                       model: str, max_tokens: int,
                       on_text_delta: TextCallback | None = None,
                       on_retry: RetryCallback | None = None) -> LLMResponse:
        """Ask for the next assistant turn (streamed; text pieces go to ``on_text_delta``,
        each retried failure to ``on_retry`` before its wait)."""
        ...

    async def aclose(self) -> None:
        """Close the connection pool."""
        ...
