"""The queue lease: which engine process drives the queue, and the epoch that fences it.

One engine at a time drives the queue (starts tasks, runs their attempts, applies the
requests other processes file). It holds the ``lease`` row, renewed every third of
`LEASE_TTL`; an engine that opened without it tries again as often, so it takes over
within one lease period once the holder stops (at once when the holder's process is dead
on this host). Each take by a new owner increments the lease's epoch; the driving
engine's writes carry the epoch they were made under and are refused in their own
transaction once it is stale (`agentdeck.engine.store.writes.fenced`, and triggers for log rows), so a
holder that stalled past its lease and resumed writes nothing over the new holder's
work. It stops driving as soon as it learns of the loss: at its next renewal, or when a
fenced write was refused (`lost`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from agentdeck.engine.store import writes as wr
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.store.db import Store

log = logging.getLogger(__name__)

LEASE_TTL = 15.0
LOST = ("lost the queue to another agentdeck process: this one stopped running tasks "
        "(their agents keep running; that process took them over)")
TAKEN_OVER = "the agentdeck process that ran the queue stopped: this one runs it now"

Hook = Callable[[], Awaitable[None]]


class Lease:
    """One engine's hold on the lease.

    Args:
        store: the database of the queue.
        owner: this engine's id in the lease row.
        bus: where taking over and losing the queue are announced.
        on_gained: starts driving (called once the lease is taken, with `epoch` set).
        on_lost: stops driving (called with `epoch` already None).
    """

    def __init__(self, store: Store, owner: str, bus: EventBus, *, on_gained: Hook,
                 on_lost: Hook, ttl: float = LEASE_TTL) -> None:
        self._store = store
        self._owner = owner
        self._bus = bus
        self._waited = False  # a take failed: gaining it later is a takeover
        self._taken = False   # the lease row may name this engine
        self._on_gained = on_gained
        self._on_lost = on_lost
        self._ttl = ttl
        self._check = asyncio.Event()
        #: The epoch of the lease while this engine holds it, else None.
        self.epoch: int | None = None

    async def take(self) -> bool:
        """Take or renew the lease once; start or stop driving if that changed.

        A failure to start driving is raised, with driving stopped again (the next
        take tries again).
        """
        epoch = await self._store.awrite(wr.take_lease(self._owner, self._ttl))
        self._waited = self._waited or epoch is None
        if epoch == self.epoch:
            return epoch is not None
        if self.epoch is not None:  # lost, maybe taken back since: the old work stops
            self._bus.publish(Notice("warning", LOST))
            await self._stop()
        if epoch is None:
            return False
        self.epoch = epoch
        self._taken = True
        try:
            await self._on_gained()
        except BaseException:
            await self._stop()
            raise
        if self._waited:
            self._bus.publish(Notice("info", TAKEN_OVER))
        return True

    async def keep(self) -> None:
        """Renew while held, try to take it while not; until cancelled."""
        while True:
            try:
                async with asyncio.timeout(self._ttl / 3):
                    await self._check.wait()
            except TimeoutError:
                pass
            self._check.clear()
            try:
                await self.take()
            except Exception:  # the store failed, or starting to drive did: next time
                log.exception("could not take or renew the queue lease; trying again")

    def lost(self) -> None:
        """A fenced write was refused: check the lease now rather than at the next renewal."""
        self._check.set()

    async def release(self) -> None:
        """Let the lease go, if this engine ever took it (it has stopped driving)."""
        self.epoch = None
        if self._taken:
            await self._store.awrite(wr.release_lease(self._owner))

    async def _stop(self) -> None:
        self.epoch = None
        await self._on_lost()
