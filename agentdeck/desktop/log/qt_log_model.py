"""A list model over a task's log entries: a million lines without a text widget.

Live lines arrive in batches (`append_entries`, one insert per batch). Older lines are
paged in from the store on demand through a ``fetch_page(before_seq, limit)`` callback
and Qt's `canFetchMore`/`fetchMore`. Qt asks for "more" when the *last* row is visible,
which for a log is the live end, so the model only reports older lines as fetchable
while the view has asked for them (`want_older`, set when scrolled to the top) or while
it is still empty (the first page is the newest one).
"""
from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from agentdeck.desktop.log.ansi import strip_ansi
from agentdeck.engine.models import LogEntry

Entry = LogEntry | dict[str, Any]
FetchPage = Callable[[int | None, int], Sequence[Entry]]
Index = QModelIndex | QPersistentModelIndex
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
_EXPANDABLE = {"command", "tool_call", "tool_result", "file_edit", "error", "usage", "question",
               "gap"}


def entry_field(entry: Entry, name: str) -> Any:
    """A field of a `LogEntry` or of the equivalent dict; enums become their value."""
    value = entry.get(name) if isinstance(entry, dict) else getattr(entry, name)
    return value.value if isinstance(value, enum.Enum) else value


def summary(entry: Entry) -> str:
    """The one line a row shows: the first line of the text, marked when there is more."""
    text = entry_field(entry, "text") or ""
    first, _, rest = text.partition("\n")
    return first + " …" if rest.strip() else first


def details(entry: Entry) -> str:
    """The full text of an entry with its structured data (command output, tool args)."""
    text = entry_field(entry, "text") or ""
    data = entry_field(entry, "data") or {}
    kind = entry_field(entry, "kind")
    if kind == "command" and data:
        parts = [f"$ {data.get('command', text)}", str(data.get("output", "") or "")]
        if data.get("exit_code") is not None:
            parts.append(f"exit code {data['exit_code']}")
        return "\n\n".join(p for p in parts if p)
    if not data:
        return text
    return f"{text}\n\n{json.dumps(data, indent=2, ensure_ascii=False, default=str)}"


def is_expandable(entry: Entry) -> bool:
    """True when a row hides more than it shows (structured data or more lines)."""
    return bool(entry_field(entry, "data")) and entry_field(entry, "kind") in _EXPANDABLE or \
        "\n" in (entry_field(entry, "text") or "").rstrip("\n")


class QtLogModel(QAbstractListModel):
    """Log entries of one task, oldest first.

    Args:
        fetch_page: ``fetch_page(before_seq, limit)`` returns up to ``limit`` entries with
            ``seq < before_seq`` (the newest ones when ``before_seq`` is None), oldest first.
        page_size: entries asked for per page.
    """

    def __init__(self, fetch_page: FetchPage | None = None, page_size: int = 2000,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.entries: list[Entry] = []
        self.page_size = page_size
        self._fetch_page = fetch_page
        self._no_older = fetch_page is None
        self.want_older = False

    def set_source(self, fetch_page: FetchPage | None) -> None:
        """Forget all entries and page from ``fetch_page`` (None: live lines only)."""
        self.beginResetModel()
        self.entries = []
        self._fetch_page = fetch_page
        self._no_older = fetch_page is None
        self.want_older = False
        self.endResetModel()

    def append_entries(self, entries: Sequence[Entry]) -> None:
        """Add live entries at the end; ones already held (by seq) are skipped."""
        if self.entries:
            last = entry_field(self.entries[-1], "seq")
            entries = [e for e in entries if entry_field(e, "seq") > last]
        if not entries:
            return
        first = len(self.entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self.entries.extend(entries)
        self.endInsertRows()

    def entry(self, row: int) -> Entry:
        """The entry shown at ``row``."""
        return self.entries[row]

    def plain_text(self, row: int) -> str:
        """Row ``row``'s full text without escape codes (what copying gives)."""
        return strip_ansi(entry_field(self.entries[row], "text") or "")

    def find(self, query: str, start: int, forward: bool = True) -> int | None:
        """The next row (after/before ``start``, wrapping) whose text contains ``query``."""
        count = len(self.entries)
        needle = query.lower()
        if not needle or not count:
            return None
        step = 1 if forward else -1
        for offset in range(1, count + 1):
            row = (start + step * offset) % count
            if needle in self.plain_text(row).lower():
                return row
        return None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return strip_ansi(summary(entry))
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.ToolTipRole and is_expandable(entry):
            return "Click to show details"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802 (Qt API)
        if parent.isValid() or self._no_older:
            return False
        return self.want_older or not self.entries

    def fetchMore(self, parent: Index) -> None:  # noqa: N802 (Qt API)
        if not self.canFetchMore(parent) or self._fetch_page is None:
            return
        self.want_older = False
        before = entry_field(self.entries[0], "seq") if self.entries else None
        page = [e for e in self._fetch_page(before, self.page_size)
                if before is None or entry_field(e, "seq") < before]
        if len(page) < self.page_size:
            self._no_older = True
        if not page:
            return
        self.beginInsertRows(QModelIndex(), 0, len(page) - 1)
        self.entries[0:0] = page
        self.endInsertRows()
