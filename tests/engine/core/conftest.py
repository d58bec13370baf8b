"""Fixtures for the engine core's tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.enginekit import make_repo

#: Twenty numbered lines: tasks that edit lines far apart change one file without a clash.
NOTES = "".join(f"line {n}\n" for n in range(1, 21))


@pytest.fixture
def notes_repo(tmp_path: Path) -> Path:
    """A repo at ``tmp_path / "repo"`` with notes.txt (`NOTES`) and other.txt."""
    return make_repo(tmp_path / "repo", {"notes.txt": NOTES, "other.txt": "other\n"})
