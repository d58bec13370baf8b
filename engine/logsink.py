"""Turns runtime output batches into numbered, parsed, masked log entries.

One `TaskLog` per running attempt. It is the runtime's `Sink`: called on the event loop
with a batch of decoded lines and the cursor after them. It numbers the lines, lets the
agent adapter parse them, masks secrets, queues them for the store together with the
cursor, publishes one `LogAppended` per batch, and reports facts the adapter found
(usage, session id, a question) to the engine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from engine.agents.base import AgentAdapter
from engine.events import EventBus, LogAppended
from engine.masking import Masker
from engine.models import EntryKind, LogEntry, ParsedEntry, Stream
from engine.store import Store

FactsHandler = Callable[[str, dict[str, Any]], None]


@dataclass
class SeqCounter:
    """The next log sequence number of one task, shared by the `TaskLog`s of its attempts.

    Shared, not copied: an attempt is reported ended before its sandbox is removed, so a
    follow-up may start while the previous attempt's runner is still finishing.
    """

    next: int


class TaskLog:
    def __init__(self, task_id: str, attempt: int, seq: SeqCounter, *, store: Store,
                 bus: EventBus, adapter: AgentAdapter, masker: Masker,
                 on_facts: FactsHandler) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self._seq = seq
        self._store = store
        self._bus = bus
        self._adapter = adapter
        self._masker = masker
        self._on_facts = on_facts
        self._raw = type(adapter) is AgentAdapter  # plain output: skip per-line parsing

    def __call__(self, stream: Stream, lines: list[str], cursor: str) -> None:
        lines = self._masker.mask_lines(lines)
        if self._raw:
            entries = self._raw_entries(stream, lines)
        else:
            entries = [self._entry(stream, self._parse(stream, line)) for line in lines]
        self._emit(entries, cursor)

    def _raw_entries(self, stream: Stream, lines: list[str]) -> list[LogEntry]:
        ts, tid, att, seq = time.time(), self.task_id, self.attempt, self._seq.next
        raw, make = EntryKind.RAW, LogEntry._make  # _make: no Python frame per line
        entries = [make((tid, seq + i, ts, att, stream, raw, line, None))
                   for i, line in enumerate(lines)]
        self._seq.next = seq + len(lines)
        return entries

    def _parse(self, stream: Stream, line: str) -> ParsedEntry:
        try:
            return self._adapter.parse(stream, line)
        except Exception as exc:  # an adapter bug must not lose the line
            return ParsedEntry(EntryKind.RAW, line, {"parse_error": repr(exc)})

    def _entry(self, stream: Stream, parsed: ParsedEntry) -> LogEntry:
        data = parsed.data
        if data and self._masker:
            data = _mask_data(data, self._masker)
        entry = LogEntry(self.task_id, self._seq.next, time.time(), self.attempt, stream,
                         parsed.kind, parsed.text, data)
        self._seq.next += 1
        if data and any(k in data for k in ("usage", "session_id", "question")):
            self._on_facts(self.task_id, data)
        return entry

    def system(self, text: str, kind: EntryKind = EntryKind.SYSTEM,
               data: dict[str, Any] | None = None) -> None:
        """An entry written by agentdeck itself (a state change, a notice)."""
        self._emit([self._entry(Stream.SYSTEM, ParsedEntry(kind, self._masker.mask(text), data))], None)

    def parsed(self, parsed: ParsedEntry) -> None:
        """An entry produced in-process (the built-in agent)."""
        text = self._masker.mask(parsed.text)
        self._emit([self._entry(Stream.STDOUT, ParsedEntry(parsed.kind, text, parsed.data))], None)

    def _emit(self, entries: list[LogEntry], cursor: str | None) -> None:
        if not entries and cursor is None:
            return
        self._store.append_logs(entries, (self.task_id, cursor) if cursor is not None else None)
        if entries:
            self._bus.publish(LogAppended(self.task_id, tuple(entries)))


def _mask_data(data: Any, masker: Masker) -> Any:
    if isinstance(data, str):
        return masker.mask(data)
    if isinstance(data, dict):
        return {k: _mask_data(v, masker) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_data(v, masker) for v in data]
    return data
