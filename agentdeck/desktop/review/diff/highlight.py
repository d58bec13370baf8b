"""Syntax tokens and intra-line change marks for one file, computed off the GUI thread.

Pygments runs at about 1 MB/s, so a big review is never tokenized as a whole: the review
panel asks for the file it shows, and `Highlighter` works through requests newest first
on one worker thread, handing each `FileHighlight` back to the GUI thread.
Tokens keep Pygments token types; colours are looked up when painting, so a theme switch
needs no new tokens.
"""
from __future__ import annotations

import difflib
import functools
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Hashable

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import Text, _TokenType
from pygments.util import ClassNotFound
from PySide6.QtCore import QObject, QTimer, Signal

from agentdeck.desktop.review.diff.rows import ParsedFile, change_pairs

# Beyond these, a side is shown plain: tokenizing would take seconds (VS Code stops at 20 MB).
MAX_HIGHLIGHT_CHARS = 2_000_000
MAX_MARKED_LINE = 1_000
FIRST_PASS_LINES = 100  # per side: more than a screenful of rows at the top of a file
QUICK_CHARS = 16_000  # a first pass this small takes a few ms: done on the GUI thread
_WORDS = re.compile(r"\w+|\s+|[^\w\s]")

Span = tuple[int, int, _TokenType]   # start column, end column, token type
Mark = tuple[int, int]               # start column, end column of a changed stretch


@dataclass(frozen=True, slots=True)
class FileHighlight:
    """Tokens and change marks of one file, keyed by line number on each side."""

    key: Hashable
    old_tokens: dict[int, list[Span]]
    new_tokens: dict[int, list[Span]]
    old_marks: dict[int, list[Mark]]
    new_marks: dict[int, list[Mark]]
    complete: bool = True  # False: only the first lines of each side (a quick first pass)


def highlight_file(key: Hashable, path: str, parsed: ParsedFile,
                   first: int | None = None) -> FileHighlight:
    """Tokenize both sides of ``parsed`` with the lexer ``path`` suggests; mark changes.

    ``first``: only the first ``first`` lines of each side, which is what a view opened
    at the top shows (lexing from the top keeps the tokens exact).
    """
    old_lines, new_lines = _head(parsed.old_lines, first), _head(parsed.new_lines, first)
    old_marks: dict[int, list[Mark]] = {}
    new_marks: dict[int, list[Mark]] = {}
    for old_no, new_no in change_pairs(parsed):
        if old_no in old_lines and new_no in new_lines:
            old_marks[old_no], new_marks[new_no] = changed_stretches(
                old_lines[old_no], new_lines[new_no])
    lexer = lexer_for(path)
    return FileHighlight(key, tokenize_lines(lexer, old_lines), tokenize_lines(lexer, new_lines),
                         old_marks, new_marks, complete=first is None)


def quick_highlight(key: Hashable, path: str, parsed: ParsedFile) -> FileHighlight | None:
    """The first pass of a file (the whole file when it is short), or None when it holds
    more than `QUICK_CHARS` characters.

    Small enough to run on the GUI thread, so the file is coloured at its first paint:
    handing it to the worker instead costs more, as the worker and the GUI thread then
    take turns at the GIL while the review fills its file tree.
    """
    first = FIRST_PASS_LINES if _needs_two_passes(parsed) else None
    size = sum(len(line) for side in (parsed.old_lines, parsed.new_lines)
               for line in _head(side, first).values())
    return highlight_file(key, path, parsed, first) if size <= QUICK_CHARS else None


def _needs_two_passes(parsed: ParsedFile) -> bool:
    return max(len(parsed.old_lines), len(parsed.new_lines)) > 2 * FIRST_PASS_LINES


def _head(lines: dict[int, str], count: int | None) -> dict[int, str]:
    if count is None or len(lines) <= count:
        return lines
    return {number: lines[number] for number in sorted(lines)[:count]}


@functools.lru_cache(maxsize=256)
def lexer_for(path: str) -> Lexer | None:
    """The Pygments lexer for a file name, or None for plain text."""
    name = PurePosixPath(path).name
    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def tokenize_lines(lexer: Lexer | None, lines: dict[int, str]) -> dict[int, list[Span]]:
    """Token spans per line. Lines are lexed in order as one text, so strings and comments
    spanning lines come out right within a hunk."""
    numbers = sorted(lines)
    text = "\n".join(lines[n] for n in numbers)
    out: dict[int, list[Span]] = {}
    if lexer is None or not numbers or len(text) > MAX_HIGHLIGHT_CHARS:
        return out
    index, column, spans = 0, 0, []
    for _, ttype, value in lexer.get_tokens_unprocessed(text):
        for k, part in enumerate(value.split("\n")):
            if k:
                out[numbers[index]] = spans
                index, column, spans = index + 1, 0, []
                if index >= len(numbers):
                    return out
            if part and ttype is not Text and ttype not in Text.Whitespace:
                spans.append((column, column + len(part), ttype))
            column += len(part)
    out[numbers[index]] = spans
    return out


def changed_stretches(old: str, new: str) -> tuple[list[Mark], list[Mark]]:
    """Column ranges that differ between a removed line and the added line replacing it.

    Compared word by word, so a renamed identifier is marked whole; nothing is marked
    when the lines have little in common (the whole line changed, marks would be noise).
    """
    if len(old) > MAX_MARKED_LINE or len(new) > MAX_MARKED_LINE:
        return [], []
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.5:
        return [], []
    a_cols, b_cols = _columns(a), _columns(b)
    old_marks, new_marks = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            old_marks.append((a_cols[i1], a_cols[i2]))
        if j2 > j1:
            new_marks.append((b_cols[j1], b_cols[j2]))
    return old_marks, new_marks


def _columns(words: list[str]) -> list[int]:
    """Start column of each word, plus the end of the line."""
    cols = [0]
    for word in words:
        cols.append(cols[-1] + len(word))
    return cols


class _Jobs:
    """The worker's side, free of Qt: the worker thread only ever holds this object.

    If the worker held the `Highlighter` (a QObject), dropping its last reference there
    would destroy the QObject and its timer on the wrong thread — a dangling timer that
    crashes Qt later.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[tuple[Hashable, str, ParsedFile, bool]] = []  # ..., full only
        self.results: queue.SimpleQueue[FileHighlight] = queue.SimpleQueue()
        self.busy = 0  # requests submitted and not finished
        self.closed = False

    def run_newest(self) -> None:
        try:
            self._highlight_newest()
        finally:
            with self.lock:
                self.busy -= 1

    def _highlight_newest(self) -> None:
        with self.lock:
            if not self.pending:
                return
            key, path, parsed, full_only = self.pending.pop()
        if not full_only and _needs_two_passes(parsed):
            # The screenful first, then the whole file (unless the user moved on meanwhile).
            if not self._put(highlight_file(key, path, parsed, FIRST_PASS_LINES)):
                return
            with self.lock:
                if self.pending:
                    return
        self._put(highlight_file(key, path, parsed))

    def _put(self, result: FileHighlight) -> bool:
        with self.lock:
            if self.closed:
                return False
        self.results.put(result)
        return True


class Highlighter(QObject):
    """Runs `highlight_file` on a worker thread for the file the user looks at; a long
    file gets a quick pass over its first lines before the full one.

    The worker never touches Qt: results go into a plain thread-safe queue that a GUI
    thread timer drains (only while work is under way).

    Signals:
        ready(FileHighlight): emitted on the GUI thread.
    """

    ready = Signal(object)
    POLL_MS = 10

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="highlight")
        self._jobs = _Jobs()
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._deliver)
        # Pygments reads its lexer tables on first use (~0.1 s): do it now, off the GUI thread.
        self._pool.submit(lexer_for, "warm_up.py")

    def request(self, key: Hashable, path: str, parsed: ParsedFile,
                full_only: bool = False) -> None:
        """Queue a file, replacing any request not started yet: the user has moved on,
        and the file left behind is asked for again if it is shown again.

        ``full_only``: skip the quick first pass (`quick_highlight` did it already).
        """
        jobs = self._jobs
        with jobs.lock:
            jobs.pending[:] = [(key, path, parsed, full_only)]
            jobs.busy += 1
        self._pool.submit(jobs.run_newest)
        self._timer.start()

    def close(self) -> None:
        """Drop queued work and let the worker end; no `ready` is emitted afterwards."""
        with self._jobs.lock:
            self._jobs.closed = True
            self._jobs.pending.clear()
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self) -> None:
        """On the GUI thread: emit what the worker finished; stop polling when idle."""
        jobs = self._jobs
        while not jobs.closed:
            try:
                result = jobs.results.get_nowait()
            except queue.Empty:
                break
            self.ready.emit(result)
        with jobs.lock:
            idle = jobs.busy == 0
        if idle and jobs.results.empty():
            self._timer.stop()
