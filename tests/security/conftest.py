"""Fixtures of the security tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.repokit import use_git_config


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's global git config: a file of this test's (the machine's stays out)."""
    config = use_git_config(tmp_path, monkeypatch, "[init]\n\tdefaultBranch = main\n")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return config
