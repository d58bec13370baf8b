"""The shared HTTP machinery of the LLM clients: streaming POST, retries, clear errors.

A concrete client supplies the URL, headers, request body and a stream parser; this
module sends the request, feeds the parser with server-sent events, retries what is worth
retrying (429, 5xx, timeouts, broken connections and streams) with backoff, and turns
the last failure into an `LLMError` whose message names the endpoint and quotes the
server, with the API key redacted.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence
from urllib.parse import urlsplit

import httpx

from agentdeck.engine.llm.errors import (
    LLMConnectionError, LLMError, LLMProtocolError, LLMTimeout, RateLimited,
)
from agentdeck.engine.llm.retry import (
    RETRY_STATUSES, RetryCallback, RetryNotice, RetryPolicy, parse_retry_after,
)
from agentdeck.engine.llm.sse import SSEvent, StreamCut, sse_events
from agentdeck.engine.llm.types import LLMResponse, Message, TextCallback, ToolSpec

log = logging.getLogger(__name__)

SNIPPET = 300
DEFAULT_RETRY = RetryPolicy()


class StreamFailure(Exception):
    """Raised inside an attempt: what went wrong, as which error, and whether to retry."""

    def __init__(self, kind: type[LLMError], message: str, *, status: int | None = None,
                 retry: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status
        self.retry, self.retry_after = retry, retry_after


class StreamParser(Protocol):
    #: The stream's own end marker arrived (``[DONE]``, ``message_stop``).
    done: bool

    def feed(self, event: SSEvent) -> None:
        """Take one event; raise `StreamFailure` on an error event or bad data."""

    def result(self) -> LLMResponse:
        """The reply; raise `StreamFailure` (retryable) if the stream ended early."""


def parse_json(data: str) -> Any:
    """``json.loads`` that reports bad data as a (non-retryable) protocol failure."""
    try:
        return json.loads(data)
    except ValueError:
        raise StreamFailure(LLMProtocolError,
                            f"the server sent malformed JSON: {data[:SNIPPET]!r}") from None


def incomplete(what: str) -> StreamFailure:
    return StreamFailure(LLMConnectionError, f"the stream ended before {what}", retry=True)


def error_message(payload: Any) -> str:
    """The human part of an API error body (OpenAI, Anthropic and most proxies)."""
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return json.dumps(payload)[:SNIPPET]


class HTTPLLMClient:
    """Base of the API clients. Subclasses define `_url`, `_headers`, `_body`, `_parser`.

    Args:
        base_url: the API root, e.g. ``https://api.openai.com/v1``.
        api_key: sent in the flavour's auth header; None for local servers.
        name: how errors and logs name this endpoint (default: host:port).
        read_timeout: longest silence (seconds) while waiting for data.
        connect_timeout: longest wait to connect.
        retry: the retry policy.
        on_rate_limited: called with the provider's ``Retry-After`` (or None) on every
            429, even one that a retry then gets past, so a scheduler can slow down.
        sleep: how to wait between attempts (tests pass a recording one).
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, name: str | None = None,
                 read_timeout: float = 60.0, connect_timeout: float = 10.0,
                 retry: RetryPolicy = DEFAULT_RETRY,
                 on_rate_limited: Callable[[float | None], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key or None
        self.name = name or urlsplit(self.base_url).netloc or self.base_url
        self.read_timeout = read_timeout
        self.retry = retry
        self.on_rate_limited = on_rate_limited
        self._sleep = sleep
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    # -- subclass hooks ------------------------------------------------------------
    def _url(self) -> str:
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, messages: Sequence[Message], tools: Sequence[ToolSpec], model: str,
              max_tokens: int) -> dict[str, Any]:
        raise NotImplementedError

    def _parser(self, on_text_delta: TextCallback | None) -> StreamParser:
        raise NotImplementedError

    # -- public ----------------------------------------------------------------------
    async def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec], *,
                       model: str, max_tokens: int,
                       on_text_delta: TextCallback | None = None,
                       on_retry: RetryCallback | None = None) -> LLMResponse:
        """Ask for the next assistant turn; see `agentdeck.engine.llm.types.ChatClient`.

        A failed attempt that is retried is announced to ``on_retry`` (what failed, the
        wait, the attempt that follows) before the wait. Each attempt asks for the whole
        reply again: text already passed to ``on_text_delta`` by a failed attempt is
        superseded by the retry's, so a caller that shows pieces live drops them on
        ``on_retry``; the reply returned is always from one attempt only.

        Raises:
            RateLimited: 429s outlasted the retries (``retry_after`` says how long).
            LLMTimeout: the server stayed silent past the read timeout every time.
            LLMConnectionError: no connection, or the stream kept breaking off.
            LLMProtocolError: the answer was not in the API's format.
            LLMError: any other error status (bad key, bad request, 5xx at the end).
        """
        body = self._body(messages, tools, model, max_tokens)
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return await self._attempt(body, on_text_delta)
            except StreamFailure as exc:
                failure = exc
            # Outside the except block, so the final error does not chain the raw failure.
            await self._after_failure(failure, attempt, on_retry)
        raise AssertionError("unreachable: the last attempt raises")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "HTTPLLMClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one attempt -------------------------------------------------------------------
    async def _attempt(self, body: dict[str, Any],
                       on_text_delta: TextCallback | None) -> LLMResponse:
        try:
            async with self._http.stream("POST", self._url(), json=body,
                                         headers=self._headers()) as resp:
                if resp.status_code >= 400:
                    raise self._status_failure(resp.status_code, await resp.aread(),
                                               resp.headers)
                if "event-stream" not in resp.headers.get("content-type", ""):
                    raise self._not_a_stream(await resp.aread())
                parser = self._parser(on_text_delta)
                await self._read_stream(resp, parser)
                return parser.result()
        except httpx.TimeoutException:
            raise StreamFailure(LLMTimeout, f"no data from the server within "
                                f"{self.read_timeout:g} s (read timeout)", retry=True) from None
        except httpx.TransportError as exc:
            raise StreamFailure(LLMConnectionError, f"connection failed: "
                                f"{type(exc).__name__}: {exc}", retry=True) from None

    @staticmethod
    async def _read_stream(resp: httpx.Response, parser: StreamParser) -> None:
        """Feed ``parser`` every event; a close inside an event before the stream's end
        marker is a broken connection (HTTP may have seen a clean end of body)."""
        try:
            async for event in sse_events(resp.aiter_lines()):
                parser.feed(event)
        except StreamCut as exc:
            if not parser.done:
                raise StreamFailure(LLMConnectionError, "the stream broke off in the middle "
                                    f"of an event: {exc.partial[:80]!r}", retry=True) from None

    def _status_failure(self, status: int, raw: bytes,
                        headers: Mapping[str, str]) -> StreamFailure:
        text = raw.decode("utf-8", "replace")
        try:
            said = error_message(json.loads(text))
        except ValueError:
            said = text.strip()[:SNIPPET] or "(empty body)"
        said = self._redact(said)
        if status == 429:
            return StreamFailure(RateLimited, f"rate limited (HTTP 429): {said}", status=status,
                                 retry=True, retry_after=parse_retry_after(headers))
        if status in (401, 403):
            said += " — check the API key configured for this provider"
        return StreamFailure(LLMError, f"HTTP {status}: {said}", status=status,
                             retry=status in RETRY_STATUSES or status >= 500)

    @staticmethod
    def _not_a_stream(raw: bytes) -> StreamFailure:
        text = raw.decode("utf-8", "replace")
        try:
            said = error_message(json.loads(text))
        except ValueError:
            return StreamFailure(LLMProtocolError, "the server sent malformed JSON instead of "
                                 f"an event stream: {text[:SNIPPET]!r}")
        return StreamFailure(LLMProtocolError, f"expected an event stream, got: {said}")

    # -- retry bookkeeping -----------------------------------------------------------------
    async def _after_failure(self, failure: StreamFailure, attempt: int,
                             on_retry: RetryCallback | None) -> None:
        if failure.kind is RateLimited and self.on_rate_limited is not None:
            self.on_rate_limited(failure.retry_after)
        too_long = (failure.retry_after or 0) > self.retry.max_retry_after
        if not failure.retry or attempt >= self.retry.attempts or too_long:
            raise self._final_error(failure, attempt)
        notice = RetryNotice(self.name, self._redact(failure.message), failure.status,
                             self.retry.delay(attempt, failure.retry_after), attempt + 1,
                             self.retry.attempts)
        log.warning("%s", notice)
        if on_retry is not None:
            on_retry(notice)
        await self._sleep(notice.delay)

    def _final_error(self, failure: StreamFailure, attempts: int) -> LLMError:
        message = f"LLM request to {self.name} ({self._url()}) failed: {failure.message}"
        if attempts > 1:
            message += f" (gave up after {attempts} attempts)"
        message = self._redact(message)
        if failure.kind is RateLimited:
            return RateLimited(message, retry_after=failure.retry_after, attempts=attempts)
        return failure.kind(message, status=failure.status, attempts=attempts)

    def _redact(self, text: str) -> str:
        """``text`` with the API key replaced, wherever the server may have echoed it."""
        return text.replace(self._key, "[redacted]") if self._key else text
