"""A deterministic repo for workspace benchmarks and tests: N files of text, one commit.

``scale_repo()`` gives the benchmark size (50 000 files, about 400 MB) cached under /tmp,
so the Docker and local rows of benchmarks/workspace_scale.py (and a rerun) share it;
tests ask for a few thousand files in their own tmp dir. The same arguments always make
the same commit: content comes from a fixed seed, dates and identity are fixed.
"""
from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

#: Files of the benchmark size.
FILES = 50_000
#: What the repo's .gitignore excludes (benchmarks and tests create these).
IGNORED_DIRS = ("node_modules/", "build/", ".venv/")
_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
_WORDS = [w.encode() for w in (
    "def return import class self value result config engine task agent docker layer "
    "build commit tree file path index cache stream event queue state review diff patch"
).split()]


def _pool(size: int = 4 << 20) -> bytes:
    """``size`` bytes of word-salad text (compresses about like source code)."""
    rng = random.Random(20261202)
    words = rng.choices(_WORDS, k=size // 5)
    lines = [b" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    return b"\n".join(lines)[:size]


def make_scale_repo(path: Path, files: int = FILES, total_bytes: int = 400 << 20) -> Path:
    """Write and commit the repo at ``path`` (which must not exist yet)."""
    path.mkdir(parents=True)
    env = {**os.environ, **_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    (path / ".gitignore").write_text("".join(f"{d}\n" for d in IGNORED_DIRS))
    average = max(1, total_bytes // files)
    pool = _pool(max(4 << 20, 2 * average))
    per_dir = 100
    for i in range(files - 1):
        folder = path / "src" / f"pkg{i // (per_dir * 50):03d}" / f"mod{(i // per_dir) % 50:02d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = average // 2 + (i * 7919) % average  # between 0.5x and 1.5x the average
        start = (i * 104_729) % (len(pool) - size)
        (folder / f"file{i:06d}.py").write_bytes(b"# file %d\n" % i + pool[start:start + size])
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", f"scale repo: {files} files"], cwd=path,
                   check=True, env=env)
    return path


def scale_repo(files: int = FILES, total_bytes: int = 400 << 20,
               cache: Path = Path("/tmp")) -> Path:
    """The cached repo of this size (made on first use; a half-made one is made again)."""
    path = cache / f"agentdeck-scale-repo-{files}-{total_bytes}"
    done = path / ".git" / "agentdeck-scale-done"
    if not done.exists():
        subprocess.run(["rm", "-rf", str(path)], check=True)
        make_scale_repo(path, files, total_bytes)
        done.write_text("ok\n")
    return path
