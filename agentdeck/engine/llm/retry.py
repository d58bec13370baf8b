"""When and how long to wait before trying an LLM request again."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class RetryNotice:
    """A failed LLM request that is about to be tried again, for the caller to report.

    Attributes:
        endpoint: the client's name for the endpoint (the provider's name).
        reason: what went wrong, in words (the API key redacted).
        status: the HTTP status, or None when no response arrived.
        delay: seconds until the next attempt.
        attempt: the number of that next attempt (2 = the first retry).
        attempts: how many attempts are made at most.
    """

    endpoint: str
    reason: str
    status: int | None
    delay: float
    attempt: int
    attempts: int

    def __str__(self) -> str:
        return (f"LLM request to {self.endpoint} failed ({self.reason}), retrying in "
                f"{self.delay:.1f} s (attempt {self.attempt} of {self.attempts})")


RetryCallback = Callable[[RetryNotice], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    Attributes:
        attempts: total requests made at most (1 = no retry).
        base_delay: the first backoff in seconds; it doubles per attempt.
        max_delay: backoff ceiling in seconds.
        max_retry_after: a ``Retry-After`` longer than this is not slept through: the
            request fails at once with `RateLimited` so the caller can pause the whole
            provider instead of holding a slot.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full backoff is ``base_delay * 2**(attempt-1)`` capped at ``max_delay``; jitter
        takes it down to between half and all of that, so clients that failed together
        do not come back together. A server's ``Retry-After`` replaces the backoff (plus a
        quarter second of jitter at most).
        """
        if retry_after is not None:
            return retry_after + random.uniform(0.0, 0.25)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.0)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for, in seconds, or None.

    Reads ``retry-after-ms`` (OpenAI) and ``Retry-After`` as delta-seconds or an HTTP
    date; nonsense and negative values give None and 0 respectively.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
