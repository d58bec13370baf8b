"""Fixtures for the engine tests: a real git repo and a real engine on a tmp data dir.

A test module that needs another repo or data dir overrides ``repo`` or ``home`` with a
fixture of the same name; ``engine`` and ``idle_engine`` then open on that ``home``."""
from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import pytest

from agentdeck.engine.api import Engine
from tests.engine.enginekit import make_repo, open_engine


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The engine's data dir, ``tmp_path / "home"`` (not created: the engine makes it)."""
    return tmp_path / "home"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo at ``tmp_path / "repo"`` with `make_repo`'s two committed files."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
async def engine(home: Path) -> AsyncIterator[Engine]:
    """An engine on ``home`` that drives its queue on the local runtime, closed after the
    test whether it passed or not."""
    opened = await open_engine(home)
    yield opened
    await opened.close()


@pytest.fixture
async def idle_engine(home: Path) -> AsyncIterator[Engine]:
    """An engine on ``home`` that does not drive the queue (as ``agentdeck submit`` opens
    it): submitted tasks stay queued. Closed after the test."""
    opened = await open_engine(home, drive_queue=False)
    yield opened
    await opened.close()
