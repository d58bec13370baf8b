"""The user's own git config in security tests: a file of the test's, so the machine's
global and system config stay out and each test says what the user has set."""
from __future__ import annotations

from pathlib import Path

import pytest


def use_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    """Make ``text`` the user's global git config (and ``tmp_path`` their home)."""
    config = tmp_path / "user-gitconfig"
    config.write_text(text)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return config
