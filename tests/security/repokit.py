"""Repos in security tests: the user's own git config (a file of the test's, so the
machine's global and system config stay out) and a repo's byte-for-byte fingerprint."""
from __future__ import annotations

import os
import stat
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


def fingerprint(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under ``root`` (``.git`` too: refs, index, every object) with its mode
    and its bytes (a link's target), ignored files included."""
    found: dict[str, tuple[int, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                data = os.fsencode(os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                data = Path(path).read_bytes()
            else:
                data = b""
            found[os.path.relpath(path, root)] = (st.st_mode, data)
    return found
