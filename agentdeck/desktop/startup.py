"""How ``agentdeck-gui`` was asked to start, and the moment its window first shows."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class StartOptions:
    """What the command line asked of the desktop app.

    Attributes:
        demo: queue the demo batch into an empty data dir.
        self_test: run `agentdeck.desktop.self_test` and exit with its result.
        data_dir: the data dir to use (default: the usual one; for a self-test a new
            temporary one).
        first_frame: print ``first frame`` once the window has painted, then quit
            (what benchmarks/cold_start.py times).
    """

    demo: bool = False
    self_test: bool = False
    data_dir: Path | None = None
    first_frame: bool = False


def parse_options(argv: list[str], version: str,
                  strict: bool = False) -> tuple[StartOptions, list[str]]:
    """Our options from ``argv``; the rest (Qt's own, like ``-platform``) is returned for
    `QApplication`, with the program name first. With ``strict`` (the ``agentdeck``
    command's call) anything else is a usage error (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="agentdeck-gui", description="The agentdeck desktop dashboard.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    parser.add_argument("--demo", action="store_true",
                        help="on first start, queue the demo batch on a sample repo")
    parser.add_argument("--self-test", action="store_true",
                        help="open the window, run one demo task on the local runtime, "
                             "accept its diff and exit (0 when all of it worked)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="use this data dir (a self-test uses a temporary one)")
    parser.add_argument("--quit-after-first-frame", action="store_true",
                        help="print 'first frame' once the window has painted, then quit")
    ours, qt_args = (parser.parse_args(argv[1:]), []) if strict else parser.parse_known_args(argv[1:])
    options = StartOptions(ours.demo, ours.self_test, ours.data_dir,
                           ours.quit_after_first_frame)
    return options, [argv[0] if argv else "agentdeck-gui", *qt_args]


class FirstFrame(QObject):
    """Emits `painted` after the first paint of ``widget`` (then stops watching).

    Signals:
        painted(): the widget has been drawn once.
    """

    painted = Signal()

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self._widget = widget
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._widget and event.type() == QEvent.Type.Paint:
            self._widget.removeEventFilter(self)
            self.painted.emit()
        return False
