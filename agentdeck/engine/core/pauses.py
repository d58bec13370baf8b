"""Providers paused by a rate limit (429): held here at once, stored for the next engine."""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from typing import Callable

from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.db import Store

log = logging.getLogger(__name__)


class ProviderPauses:
    """Until when each provider's tasks wait.

    Args:
        store: where a pause is kept for the next engine.
        wake: tells the scheduler to look at the queue again.
    """

    def __init__(self, store: Store, wake: Callable[[], None]) -> None:
        self._store = store
        self._wake = wake
        self._until: dict[str, float] = {}  # provider -> epoch seconds

    def pause(self, provider: str, seconds: float) -> None:
        """A provider answered 429: hold its tasks for ``seconds``, also after a restart."""
        until = max(self._until.get(provider, 0), time.time() + seconds)
        self._until[provider] = until
        # Not awaited: the pause holds here at once; the stored copy is for the next engine.
        self._store.write(wr.pause_provider(provider, until)).add_done_callback(
            _log_failed_write)
        self._wake()

    def paused(self, provider: str, now: float) -> bool:
        return self._until.get(provider, 0) > now

    async def restore(self) -> None:
        """Honour the pauses a previous engine stored."""
        self._until.update(await asyncio.to_thread(self._store.provider_pauses, time.time()))


def _log_failed_write(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("could not store a provider pause", exc_info=future.exception())
