"""Fixtures shared by every test folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import keyring
import pytest

from tests import loopfs, smalldisk

from tests.fakes.llm_server import LLMServer
from tests.fakes.memory_keyring import MemoryKeyring


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The process's keyring, replaced by an empty in-memory one for the test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A started fake LLM provider (`tests.fakes.llm_server.LLMServer`), closed after."""
    with LLMServer() as server:
        yield server


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own (`tests.smalldisk`), unmounted at the end; skipped where
    mounting is not allowed (not root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    with smalldisk.mounted(tmp_path / "disk") as disk:
        yield disk


@pytest.fixture
def btrfs_dir(tmp_path) -> Iterator[Path]:
    """An empty folder on a small btrfs loop filesystem of its own (reflinks work there),
    unmounted at the end; skipped where it cannot be mounted (not root, no loop device)."""
    reason = loopfs.unavailable()
    if reason:
        pytest.skip(reason)
    with loopfs.btrfs(tmp_path / "btrfs.img") as mount:
        yield mount
