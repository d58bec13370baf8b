"""Progress of the long commands (`image build`, `run`, `batch`): a rich bar when stdout is a
terminal, plain lines when it is not (a pipe, a log file, cron).

A command reports three things: `Progress.note` is a line the user keeps (printed above
the bar, or as it is), `Progress.status` is what happens now (beside the bar; a line of
its own when it changes, without a terminal), `Progress.count` moves the bar (``done`` of
``total``; without a terminal the notes say what got done). Callers pass text already
made safe for a terminal (`agentdeck.cli.format.safe_line`): rich is told to read no
markup in it.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

Write = Callable[[str], None]

#: Longest status shown beside a bar: a long line would wrap and break the redraw.
STATUS_WIDTH = 60


class Progress:
    """Plain lines, for output that is not a terminal."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._status: str | None = None

    def note(self, text: str) -> None:
        """A line to keep."""
        self._write(text)

    def status(self, text: str) -> None:
        """What happens now."""
        if text != self._status:
            self._status = text
            self.note(text)

    def count(self, done: int, total: int | None) -> None:
        """``done`` of ``total`` (None: not known yet); plain output shows no counts."""


class LiveProgress(Progress):
    """A rich progress bar with a spinner, the count, the status and the time taken."""

    def __init__(self, label: str, file: IO[str]) -> None:
        super().__init__(lambda _text: None)
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)
        from rich.progress import Progress as Bars
        self.bars = Bars(SpinnerColumn(), TextColumn(label, markup=False), BarColumn(),
                         MofNCompleteColumn(), TimeElapsedColumn(),
                         TextColumn("{task.fields[status]}", markup=False),
                         console=Console(file=file), redirect_stdout=False,
                         redirect_stderr=False)
        self._task = self.bars.add_task(label, total=None, status="")

    def note(self, text: str) -> None:
        from rich.text import Text
        self.bars.console.print(Text(text))

    def status(self, text: str) -> None:
        short = text if len(text) <= STATUS_WIDTH else text[:STATUS_WIDTH - 1] + "…"
        self.bars.update(self._task, status=short)

    def count(self, done: int, total: int | None) -> None:
        self.bars.update(self._task, completed=done, total=total)


@contextmanager
def progress(label: str, plain: Write = print) -> Iterator[Progress]:
    """Progress for one command: live on stdout when it is a terminal, else plain lines
    handed to ``plain`` (the command's stdout or stderr)."""
    if _is_terminal(sys.stdout):
        live = LiveProgress(label, sys.stdout)
        with live.bars:
            yield live
    else:
        yield Progress(plain)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False
