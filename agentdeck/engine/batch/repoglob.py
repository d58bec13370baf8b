"""Glob patterns over the files of a repository, as batch templates use them.

Patterns are matched against repo-relative POSIX paths: ``*`` and ``?`` stay inside one
directory, ``**`` spans any number of directories (``src/**/*.py`` also matches
``src/a.py``), ``[abc]`` / ``[!abc]`` are character classes.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def repo_files(repo: Path) -> list[str]:
    """The repo's tracked files if it is a git work tree, else every file under it.

    Paths are relative to ``repo`` with ``/`` separators; ``.git`` is never listed.
    """
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotePath=false", "-c", "core.fsmonitor=false",
             "ls-files", "-z", "--cached"],
            cwd=repo, capture_output=True, check=False, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0:
        return sorted(name for name in done.stdout.decode("utf-8", "replace").split("\0") if name)
    return _walk(repo)


def match_files(pattern: str, files: list[str]) -> list[str]:
    """The entries of ``files`` that ``pattern`` matches, in the order given."""
    regex = glob_regex(pattern)
    return [name for name in files if regex.fullmatch(name)]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob (see the module docstring) into a regular expression."""
    out: list[str] = []
    pos = 0
    while pos < len(pattern):
        if pattern.startswith("**/", pos):
            out.append("(?:[^/]+/)*")
            pos += 3
        elif pattern.startswith("**", pos):
            out.append(".*")
            pos += 2
        elif pattern[pos] == "*":
            out.append("[^/]*")
            pos += 1
        elif pattern[pos] == "?":
            out.append("[^/]")
            pos += 1
        elif pattern[pos] == "[" and "]" in pattern[pos + 2 :]:
            end = pattern.index("]", pos + 2)
            body = pattern[pos + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace(r"\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            pos = end + 1
        else:
            out.append(re.escape(pattern[pos]))
            pos += 1
    return re.compile("".join(out))


def _walk(repo: Path) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = [name for name in dirs if name != ".git"]
        rel = Path(root).relative_to(repo)
        found.extend((rel / name).as_posix() for name in files)
    return sorted(found)
