"""LLM API clients: OpenAI-compatible Chat Completions and Anthropic Messages.

Both stream (SSE), retry what is worth retrying and raise `LLMError` subclasses with
the API key redacted. The built-in agent talks to them through `ChatClient`.
"""
from typing import Any

from agentdeck.engine.llm.errors import (
    LLMConnectionError, LLMError, LLMProtocolError, LLMTimeout, RateLimited,
)
from agentdeck.engine.llm.retry import RetryNotice, RetryPolicy, parse_retry_after
from agentdeck.engine.llm.types import ChatClient, LLMResponse, Message, ToolCall, ToolSpec, Usage

__all__ = [
    "AnthropicClient", "ChatClient", "LLMConnectionError", "LLMError", "LLMProtocolError",
    "LLMResponse", "LLMTimeout", "Message", "OpenAIChatClient", "RateLimited", "RetryNotice",
    "RetryPolicy", "ToolCall", "ToolSpec", "Usage", "parse_retry_after",
]


def __getattr__(name: str) -> Any:
    """The two clients, imported when first named: they bring httpx, which costs the
    desktop's start about half a second while no built-in agent runs yet."""
    if name == "AnthropicClient":
        from agentdeck.engine.llm.anthropic import AnthropicClient
        return AnthropicClient
    if name == "OpenAIChatClient":
        from agentdeck.engine.llm.openai_chat import OpenAIChatClient
        return OpenAIChatClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
