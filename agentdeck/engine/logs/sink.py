"""Turns runtime output batches into numbered, parsed, masked log entries.

One `TaskLog` per running attempt. It is the runtime's `Sink`: called on the event loop
with a batch of decoded lines and the cursor after them. It masks secrets, numbers the
lines, lets the agent adapter parse them, queues them for the store together with the
cursor, publishes one `LogAppended` per batch, and reports facts the adapter found
(usage, session id, a question) to the engine.

A task stores at most `MAX_LOG_BYTES` of output (setting ``max_log_bytes``): an agent
printing without end must fill neither the disk nor the engine's memory. Past the cap its
lines are dropped and counted; one entry of the attempt says "output truncated: N bytes
dropped", and its stored text is updated as more is dropped, so that it ends with the
final count. Dropped lines are still parsed, so the facts in them (usage, session id, a
question, whether the agent acted) still reach the task.

Output a runtime could no longer read (Docker's log rotated past it while agentdeck was
not following) is marked by a `EntryKind.GAP` entry just before the lines that follow it,
stored in the same transaction as they and the cursor past them: once, however often the
engine restarts.
"""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable

from agentdeck.engine.agents.base import AgentAdapter
from agentdeck.engine.events import EventBus, LogAppended
from agentdeck.engine.logs.masking import Masker
from agentdeck.engine.models import EntryKind, LogEntry, LostOutput, ParsedEntry, Stream
from agentdeck.engine.store import logchunks
from agentdeck.engine.store.db import Store

FactsHandler = Callable[[str, dict[str, Any]], None]

#: Bytes of output text (UTF-8, a newline per line) stored per task by default.
MAX_LOG_BYTES = 256 << 20
#: The setting that overrides `MAX_LOG_BYTES` (a number of bytes).
MAX_LOG_SETTING = "max_log_bytes"
#: The end of a line a runtime cut (`agentdeck.engine.runtimes.base.cut_marker`).
_CUT = re.compile(r" …\[line cut: \d+ more bytes\]$")


@dataclass
class SeqCounter:
    """The next log sequence number of one task, shared by the `TaskLog`s of its attempts.

    Shared, not copied: an attempt is reported ended before its sandbox is removed, so a
    follow-up may start while the previous attempt's runner is still finishing. It also
    counts the output stored for the task (in this engine process), which the cap is on.
    """

    next: int
    stored_bytes: int = 0


class TaskLog:
    """The log of one attempt: the runtime's sink, and where agentdeck's own notes go.

    Attributes:
        max_bytes: Output bytes the task may store (see the module's doc).
        dropped_bytes: Output bytes of this attempt dropped past the cap.
    """

    def __init__(self, task_id: str, attempt: int, seq: SeqCounter, *, store: Store,
                 bus: EventBus, adapter: AgentAdapter, masker: Masker,
                 on_facts: FactsHandler, max_bytes: int | None = None) -> None:
        self.task_id = task_id
        self.attempt = attempt
        self._seq = seq
        self._store = store
        self._bus = bus
        self._adapter = adapter
        self._masker = masker
        self._on_facts = on_facts
        self._raw = type(adapter) is AgentAdapter  # plain output: skip per-line parsing
        self.max_bytes = max_bytes if max_bytes is not None else _configured_cap(store)
        self.dropped_bytes = 0
        self._truncation_seq: int | None = None

    def __call__(self, stream: Stream, lines: list[str], cursor: str,
                 lost: LostOutput | None = None) -> None:
        lines = self._mask(lines)
        kept, dropped = self._within_cap(lines)
        entries = [self._entry(Stream.SYSTEM, gap_entry(lost))] if lost is not None else []
        if self._raw:
            entries += self._raw_entries(stream, kept)
        else:
            entries += [self._entry(stream, self._parse(stream, line)) for line in kept]
            for line in dropped:
                self._facts_only(stream, line)
        if dropped:
            entries += self._truncated(_size(dropped))
        self._emit(entries, cursor)

    def backlog(self) -> int:
        """Entries handed to the store that it has not written yet (of every task).

        A runtime reading a flood holds back while this is high (`agentdeck.engine.runtimes.local.tail`):
        the entries waiting for the store are what grows the engine's memory otherwise.
        """
        return self._store.log_backlog

    def _mask(self, lines: list[str]) -> list[str]:
        if not self._masker:
            return lines
        # A cut line's kept part may end with the start of a secret the cut dropped.
        return [self._masker.mask_cut(line[:cut.start()]) + cut.group()
                if line.endswith("more bytes]") and (cut := _CUT.search(line))
                else self._masker.mask(line) for line in lines]

    def _within_cap(self, lines: list[str]) -> tuple[list[str], list[str]]:
        """The lines that still fit under the cap (counted as stored) and the rest."""
        room = self.max_bytes - self._seq.stored_bytes
        size = _size(lines)
        if size <= room:
            self._seq.stored_bytes += size
            return lines, []
        fit = 0
        while fit < len(lines) and (need := _size(lines[fit:fit + 1])) <= room:
            room -= need
            self._seq.stored_bytes += need
            fit += 1
        return lines[:fit], lines[fit:]

    def _truncated(self, dropped: int) -> list[LogEntry]:
        """The attempt's truncation entry when it is new; else its stored text updated."""
        self.dropped_bytes += dropped
        text = (f"output truncated: {self.dropped_bytes} bytes dropped (a task's log keeps "
                f"{self.max_bytes} bytes; setting {MAX_LOG_SETTING})")
        data = {"dropped_bytes": self.dropped_bytes}
        if self._truncation_seq is not None:
            self._store.write(_update_entry(self.task_id, self._truncation_seq, text, data))
            return []
        self._truncation_seq = self._seq.next
        return [self._entry(Stream.SYSTEM, ParsedEntry(EntryKind.ERROR, text, data))]

    def _facts_only(self, stream: Stream, line: str) -> None:
        """Parse a dropped line for the facts in it; the entry itself is not kept."""
        parsed = self._parse(stream, line)
        if parsed.data and any(k in parsed.data for k in ("usage", "session_id", "question")):
            self._on_facts(self.task_id, _mask_data(parsed.data, self._masker))

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
        """An entry produced in-process (the built-in agent); counts toward the cap."""
        text = self._masker.mask(parsed.text)
        if self._within_cap([text])[0]:
            self._emit([self._entry(Stream.STDOUT, ParsedEntry(parsed.kind, text, parsed.data))], None)
        else:
            data = parsed.data
            if data and any(k in data for k in ("usage", "session_id", "question")):
                self._on_facts(self.task_id, _mask_data(data, self._masker))
            self._emit(self._truncated(_size([text])), None)

    def _emit(self, entries: list[LogEntry], cursor: str | None) -> None:
        if not entries and cursor is None:
            return
        self._store.append_logs(entries, (self.task_id, cursor) if cursor is not None else None)
        if entries:
            self._bus.publish(LogAppended(self.task_id, tuple(entries)))


def gap_entry(lost: LostOutput) -> ParsedEntry:
    """The entry saying that output was lost, and when; never a count nobody knows."""
    text = (f"output lost: what the agent printed between {_utc(lost.after)} and "
            f"{_utc(lost.before)} was gone from the runtime's log before agentdeck read it "
            "(an unknown number of lines)")
    return ParsedEntry(EntryKind.GAP, text, {"lost_after": lost.after,
                                             "lost_before": lost.before})


def _utc(ts: float) -> str:
    seconds, ms = divmod(round(ts * 1000), 1000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{ms:03d} UTC"


def _size(lines: list[str]) -> int:
    """The UTF-8 bytes of ``lines``, a newline after each."""
    return len("\n".join(lines).encode("utf-8", "surrogatepass")) + 1 if lines else 0


def _configured_cap(store: Store) -> int:
    value = store.get_setting(MAX_LOG_SETTING, MAX_LOG_BYTES)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):  # a hand-edited setting: the default is safe
        return MAX_LOG_BYTES


def _update_entry(task_id: str, seq: int, text: str,
                  data: dict[str, Any]) -> Callable[[sqlite3.Connection], None]:
    def write(conn: sqlite3.Connection) -> None:
        logchunks.update_entry(conn, task_id, seq, text, data)
    return write


def _mask_data(data: Any, masker: Masker) -> Any:
    if isinstance(data, str):
        return masker.mask(data)
    if isinstance(data, dict):
        return {k: _mask_data(v, masker) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_data(v, masker) for v in data]
    return data
