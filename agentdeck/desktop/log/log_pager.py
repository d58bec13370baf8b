"""Pages of a task's stored log for the log model, read ahead off the event loop.

The log model asks for older pages through a synchronous ``fetch_page(before_seq,
limit)``; the engine reads logs asynchronously (SQLite in a worker thread). The pager
bridges the two: it loads the newest page before the view is shown and always keeps the
next older page read ahead, so a synchronous request is served from memory.
"""
from __future__ import annotations

from agentdeck.desktop.context import AppContext
from agentdeck.engine.models import LogEntry


class LogPager:
    """Read-ahead pages of one task's log, newest first."""

    def __init__(self, ctx: AppContext, task_id: str, page_size: int) -> None:
        self._ctx = ctx
        self.task_id = task_id
        self.page_size = page_size
        self._pages: dict[int | None, list[LogEntry]] = {}
        self._closed = False

    async def start(self) -> list[LogEntry]:
        """Load the newest page (served by the first `fetch_page`) and read ahead."""
        newest = await self._read(None)
        self._pages[None] = newest
        self._read_ahead(newest)
        return newest

    def fetch_page(self, before_seq: int | None, limit: int) -> list[LogEntry]:
        """The page just older than ``before_seq`` (None: the newest), oldest first."""
        page = self._pages.pop(before_seq, [])
        self._read_ahead(page)
        return page[-limit:]

    def close(self) -> None:
        """Stop reading ahead (the view shows another task)."""
        self._closed = True
        self._pages.clear()

    def _read_ahead(self, page: list[LogEntry]) -> None:
        if len(page) < self.page_size or self._closed:
            return  # a short page is the oldest one
        before = page[0].seq
        if before not in self._pages:
            self._ctx.runner.spawn(self._store(before))

    async def _store(self, before: int) -> None:
        page = await self._read(before)
        if not self._closed:
            self._pages[before] = page

    async def _read(self, before: int | None) -> list[LogEntry]:
        return await self._ctx.engine.get_logs(
            self.task_id, before_seq=before, limit=self.page_size, newest=True)
