"""Failures of an LLM request, in words a user can act on.

Messages never contain the API key: the clients redact it from everything the server
says before building one of these.
"""
from __future__ import annotations

from agentdeck.engine.errors import AgentdeckError


class LLMError(AgentdeckError):
    """An LLM request failed for good (after the retries it deserved).

    Attributes:
        status: the HTTP status, or None when no response arrived.
        attempts: how many requests were made.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class RateLimited(LLMError):
    """The provider kept answering 429 (or asked to wait longer than we retry for).

    ``retry_after`` is the wait in seconds the provider asked for (None if it did not
    say): the engine pauses that provider's queue for this long.
    """

    def __init__(self, message: str, *, retry_after: float | None, attempts: int = 1) -> None:
        super().__init__(message, status=429, attempts=attempts)
        self.retry_after = retry_after


class LLMTimeout(LLMError):
    """No response (or no further stream data) within the read timeout."""


class LLMConnectionError(LLMError):
    """The connection could not be made or broke off before the reply was complete."""


class LLMProtocolError(LLMError):
    """The server answered something that is not the API's format (bad JSON, bad events)."""
