"""The log list model: batched appends, a million rows, paging older lines from a store."""
from __future__ import annotations

import bisect

from PySide6.QtCore import QModelIndex, Qt

from agentdeck.desktop.log.qt_log_model import ENTRY_ROLE, QtLogModel, details, is_expandable, summary
from agentdeck.engine.models import EntryKind, LogEntry, Stream


def _entry(seq: int, text: str | None = None, kind: EntryKind = EntryKind.RAW,
           data: dict | None = None) -> LogEntry:
    return LogEntry("t1", seq, 1_700_000_000.0 + seq, 1, Stream.STDOUT, kind,
                    text if text is not None else f"line {seq}", data)


class _Store:
    """Stands in for the engine's paged log query over stored entries (seq 1..n)."""

    def __init__(self, count: int) -> None:
        self.entries = [_entry(seq) for seq in range(1, count + 1)]
        self.calls: list[tuple[int | None, int]] = []

    def fetch_page(self, before_seq: int | None, limit: int) -> list[LogEntry]:
        self.calls.append((before_seq, limit))
        seqs = [e.seq for e in self.entries]
        end = len(seqs) if before_seq is None else bisect.bisect_left(seqs, before_seq)
        return self.entries[max(0, end - limit):end]


def test_model_passes_the_model_tester(qtmodeltester) -> None:
    model = QtLogModel()
    model.append_entries([_entry(1), _entry(2, "\x1b[31mred\x1b[0m")])
    qtmodeltester.check(model)
    assert model.index(1).data() == "red"
    assert model.index(0).data(ENTRY_ROLE).seq == 1


def test_a_million_entries_in_batches_of_10k(qtbot) -> None:
    model = QtLogModel()
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    text = "x" * 60
    for start in range(0, 1_000_000, 10_000):
        model.append_entries([{"seq": seq, "ts": 0.0, "stream": "stdout", "kind": "raw",
                               "text": f"{text} {seq}", "data": None}
                              for seq in range(start + 1, start + 10_001)])
    assert model.rowCount() == 1_000_000
    assert len(inserts) == 100 and inserts[-1] == (990_000, 999_999)
    assert model.index(999_999).data() == f"{text} 1000000"
    assert model.plain_text(0) == f"{text} 1"


def test_entries_already_held_are_not_doubled() -> None:
    model = QtLogModel()
    model.append_entries([_entry(1), _entry(2), _entry(3)])
    model.append_entries([_entry(2), _entry(3), _entry(4)])
    assert [model.entry(r).seq for r in range(model.rowCount())] == [1, 2, 3, 4]


def test_first_page_is_the_newest_and_older_pages_follow_on_request() -> None:
    store = _Store(10_000)
    model = QtLogModel(store.fetch_page, page_size=1000)
    root = QModelIndex()
    assert model.canFetchMore(root)  # empty: the view fetches the newest page
    model.fetchMore(root)
    assert store.calls == [(None, 1000)]
    assert (model.entry(0).seq, model.entry(999).seq) == (9001, 10_000)
    assert not model.canFetchMore(root)  # not before the view scrolls to the top
    model.want_older = True
    assert model.canFetchMore(root)
    model.fetchMore(root)
    assert store.calls[-1] == (9001, 1000)
    assert (model.rowCount(), model.entry(0).seq) == (2000, 8001)
    assert not model.want_older


def test_paging_stops_at_the_first_entry() -> None:
    store = _Store(2500)
    model = QtLogModel(store.fetch_page, page_size=1000)
    model.fetchMore(QModelIndex())
    for _ in range(5):
        model.want_older = True
        if model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
    assert [c[0] for c in store.calls] == [None, 1501, 501]
    assert model.rowCount() == 2500 and model.entry(0).seq == 1
    model.want_older = True
    assert not model.canFetchMore(QModelIndex())


def test_live_lines_continue_after_a_page() -> None:
    store = _Store(50)
    model = QtLogModel(store.fetch_page, page_size=1000)
    model.fetchMore(QModelIndex())
    model.append_entries([_entry(50), _entry(51)])
    assert [model.entry(r).seq for r in (0, 49, 50)] == [1, 50, 51]


def test_find_wraps_in_both_directions() -> None:
    model = QtLogModel()
    model.append_entries([_entry(1, "alpha"), _entry(2, "\x1b[1mBeta\x1b[0m"), _entry(3, "gamma"),
                          _entry(4, "beta again")])
    assert model.find("beta", start=1) == 3
    assert model.find("beta", start=3) == 1  # wraps
    assert model.find("BETA", start=1, forward=False) == 3
    assert model.find("zeta", start=0) is None
    assert model.find("1m", start=0) is None  # escape codes are not text


def test_structured_entries_summarise_and_detail() -> None:
    command = _entry(1, "pytest -q", EntryKind.COMMAND,
                     {"command": "pytest -q", "output": "3 passed", "exit_code": 0})
    tool = {"seq": 2, "kind": "tool_call", "stream": "stdout", "ts": 0.0,
            "text": "read_file", "data": {"path": "a.py"}}
    plain = _entry(3, "one line")
    multi = _entry(4, "first\nsecond")
    assert [is_expandable(e) for e in (command, tool, plain, multi)] == [True, True, False, True]
    assert details(command) == "$ pytest -q\n\n3 passed\n\nexit code 0"
    assert '"path": "a.py"' in details(tool)
    assert summary(multi) == "first …"
    model = QtLogModel()
    model.append_entries([command, plain])
    assert model.index(0).data(Qt.ItemDataRole.ToolTipRole) == "Click to show details"
    assert model.index(1).data(Qt.ItemDataRole.ToolTipRole) is None
