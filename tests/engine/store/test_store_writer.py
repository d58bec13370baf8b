"""The store's writer thread against callers that give up: a write whose caller is
cancelled while the writer runs it, or while it still waits in the queue.

Each interleaving is forced: the writer is held inside an operation (on a threading.Event)
while the caller is cancelled, then let go. ``HANG`` only bounds a wait that, before the
fix, never ended (the writer thread had died on an InvalidStateError).
"""
from __future__ import annotations

import asyncio
import threading

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from tests.engine.enginekit import open_engine

HANG = 30.0


class Gate:
    """An operation for the writer that blocks it until `open` (a real held writer)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._go = threading.Event()

    def __call__(self, conn) -> str:
        self.entered.set()
        self._go.wait(HANG)
        conn.execute("INSERT INTO settings VALUES ('gate', '\"passed\"')")
        return "passed"

    async def held(self) -> None:
        """Return once the writer thread is inside this operation."""
        assert await asyncio.to_thread(self.entered.wait, HANG), "the writer never ran it"

    def open(self) -> None:
        self._go.set()


@pytest.fixture
def store(tmp_path):
    s = st.Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


async def _cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_write_whose_caller_is_cancelled_while_it_runs_is_kept(store):
    gate = Gate()
    caller = asyncio.ensure_future(store.awrite(gate))
    await gate.held()
    await _cancelled(caller)  # the caller gives up while the writer is inside its write
    gate.open()
    after = store.write(wr.set_setting("after", 1))
    await asyncio.to_thread(after.result, HANG)  # the writer lives on
    assert store.get_setting("gate") == "passed", "a write that had begun is committed"
    assert store.get_setting("after") == 1


async def test_a_write_cancelled_while_queued_is_never_run(store):
    gate = Gate()
    first = store.write(gate)
    await gate.held()
    queued = asyncio.ensure_future(store.awrite(wr.set_setting("queued", 1)))
    await asyncio.sleep(0)  # its operation is in the queue, behind the held one
    await _cancelled(queued)
    gate.open()
    after = store.write(wr.set_setting("after", 1))
    await asyncio.to_thread(after.result, HANG)
    assert first.result() == "passed"
    assert store.get_setting("queued") is None, "its caller was told it did not happen"
    assert store.get_setting("after") == 1


async def test_closing_an_engine_whose_tasks_are_mid_write_releases_the_lease(tmp_path):
    """`agentdeck run`'s close: it cancels engine tasks that wait on writes, then releases
    the lease through the same writer. Before, the writer died completing a cancelled
    write, and close waited forever on the release (the lease stayed held)."""
    engine = await open_engine(tmp_path / "home")
    assert engine.drives
    gate = Gate()
    held = engine.spawn(engine.store.awrite(gate))
    await gate.held()
    queued = engine.spawn(engine.store.awrite(wr.set_setting("queued", 1)))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(engine.close())
    await asyncio.wait({held, queued}, timeout=HANG)  # close cancels both callers
    assert held.cancelled() and queued.cancelled()
    gate.open()
    await asyncio.wait_for(closing, HANG)
    reopened = st.Store(st.db_path(tmp_path / "home"))
    try:
        assert reopened.write_sync(wr.take_lease("next", 60)), "the lease was released"
        assert reopened.get_setting("gate") == "passed"
    finally:
        reopened.close()
