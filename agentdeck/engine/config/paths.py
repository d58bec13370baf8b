"""Where agentdeck keeps its files: ``$AGENTDECK_HOME`` or the platform data dir.

The data dir holds every task's log, working copy and the database: it is made readable
by its owner only (0700) when it is created and again each time it is opened, since an
older version, a restored backup or a hand-made dir may be open to others.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

from agentdeck.engine.errors import InvalidInput

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def data_dir() -> Path:
    """The data dir (created if missing, made private). ``AGENTDECK_HOME`` overrides the
    platform default."""
    return private_dir(data_dir_path()).resolve()


def data_dir_path() -> Path:
    """Where the data dir is (``AGENTDECK_HOME`` or the platform default), without
    creating it: for `agentdeck doctor`, which reports a dir it cannot create."""
    override = os.environ.get("AGENTDECK_HOME")
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir("agentdeck"))


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter: created 0700 (with parents, those
    with the usual mode) or tightened to 0700.

    Raises:
        InvalidInput: it cannot be made private (not ours, not a directory).
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        _tighten(path, PRIVATE_DIR)
    except OSError as exc:
        raise InvalidInput(f"cannot keep agentdeck's data private in {path}: {exc.strerror}; "
                           "use a directory you own (set AGENTDECK_HOME)") from exc
    return path


def private_file(path: Path) -> None:
    """Create ``path`` (empty) readable by its owner only, or tighten it to 0600.

    An existing file is never opened: closing any descriptor of a file drops every POSIX
    lock this process holds on it, and SQLite's locks on an open database are such locks.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    # Links are followed: the data dir's location is the user's choice (trusted), and no
    # agent can reach into it.
    if stat.S_IMODE(os.stat(path).st_mode) & ~mode:
        os.chmod(path, mode)
