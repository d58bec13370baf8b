"""Fixtures of the review tests: real git diffs to review."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Tree = dict[str, "str | bytes | None"]
_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=t", "-c", "user.email=t@t",
        "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run([*_GIT, *args], cwd=repo, check=True, capture_output=True)
    return done.stdout.decode("utf-8", errors="surrogateescape")


def _write(repo: Path, files: Tree, modes: dict[str, int]) -> None:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for name, mode in modes.items():
        (repo / name).chmod(mode)


@pytest.fixture
def git_diff(tmp_path: Path) -> Callable[..., str]:
    """``git_diff(before, after, modes=None, renames=None)``: the patch a real git prints.

    ``before`` and ``after`` map paths to content (None in ``after`` deletes the file);
    ``renames`` maps old to new paths moved with ``git mv`` before ``after`` is written.
    """
    def make(before: Tree, after: Tree, modes: dict[str, int] | None = None,
             renames: dict[str, str] | None = None) -> str:
        repo = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
        repo.mkdir()
        _git(repo, "init", "-q")
        _write(repo, before, {})
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "base")
        for old, new in (renames or {}).items():
            (repo / new).parent.mkdir(parents=True, exist_ok=True)
            _git(repo, "mv", old, new)
        _write(repo, after, modes or {})
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "change")
        return _git(repo, "diff", "--binary", "-M", "HEAD~1", "HEAD")
    return make
