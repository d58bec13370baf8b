"""agentdeck's own log file: ``<data dir>/logs/agentdeck.log``, size-capped and rotated.

Both front ends call `start_log_file` once at start; the desktop's crash dialog names the
file (`log_file`) and copies its last lines (`tail_log`). Several processes (the GUI and a
CLI command) may append to it at once; each rotates on its own, so right after a rotation
another process may write a few lines to the ``.1`` file until it rotates too.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from agentdeck.engine.config.paths import PRIVATE_FILE, private_dir

LOG_DIR = "logs"
LOG_NAME = "agentdeck.log"
#: The size at which the file is rotated, and how many rotated files are kept.
MAX_BYTES = 5 << 20
BACKUPS = 3
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
#: How much of the file's end `tail_log` reads at most.
_TAIL_BYTES = 256 << 10


def log_file(home: Path) -> Path:
    """Where the log file of data dir ``home`` is."""
    return Path(home) / LOG_DIR / LOG_NAME


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """Every file it makes (the first and each after a rotation) is readable by its
    owner only, like the rest of the data dir."""

    def _open(self):  # type: ignore[no-untyped-def]
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,
                    opener=lambda path, flags: os.open(path, flags, PRIVATE_FILE))


def start_log_file(home: Path, level: int = logging.INFO,
                   max_bytes: int = MAX_BYTES) -> Path | None:
    """Send the log records of ``level`` and above to `log_file` too; returns its path,
    or None when it cannot be written (the program works on without it, saying so on
    stderr). Calling it again for the same file changes nothing.

    When no other handler is set up yet, warnings keep going to stderr as they did
    (Python's last-resort handler stops once any handler exists).
    """
    path = log_file(home)
    root = logging.getLogger()
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    try:
        private_dir(path.parent)
        handler = _PrivateRotatingHandler(path, maxBytes=max_bytes, backupCount=BACKUPS,
                                          encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - InvalidInput or OSError: no log file, say why
        if os.access(home, os.W_OK):  # else the store's error says what to do, in one line
            print(f"agentdeck: note: no log file ({exc})", file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.setLevel(logging.WARNING)
        root.addHandler(stderr)
    root.addHandler(handler)
    if root.getEffectiveLevel() > level:
        root.setLevel(level)
    return path


def tail_log(path: Path, lines: int = 200) -> str:
    """The last ``lines`` lines of the log file at ``path`` ("" when there is none)."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _TAIL_BYTES))
            data = file.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    if len(data) == _TAIL_BYTES and size > _TAIL_BYTES:
        text = text[1:]  # the first line read is likely cut
    return "\n".join(text[-lines:]) + ("\n" if text else "")
