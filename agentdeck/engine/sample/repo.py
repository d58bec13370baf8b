"""The sample project a newcomer can try agentdeck on (see agentdeck/resources/demo_batch.toml)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from agentdeck.engine.errors import RepoError
from agentdeck.engine.config.resources import resource_path

IDENTITY = ("agentdeck", "agentdeck@localhost")

# Our own git settings win over the user's global ones: no hooks, no signing prompts.
_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
        "-c", f"user.name={IDENTITY[0]}", "-c", f"user.email={IDENTITY[1]}"]


def ensure_sample_repo(dest: Path) -> Path:
    """Make ``dest`` a git repo holding the sample project, unless it already is one.

    The files are copied and committed in a temporary folder next to ``dest`` that is
    then renamed, so an interrupted run never leaves half a sample behind.

    Returns:
        ``dest``, resolved.

    Raises:
        RepoError: ``dest`` exists but is not a git repo, or git failed.
    """
    dest = Path(dest).expanduser().resolve()
    if (dest / ".git").exists():
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RepoError(f"{dest} exists but is not a git repo; move it away or pick another path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".sample-", dir=dest.parent) as scratch:
        work = Path(scratch) / "repo"
        shutil.copytree(resource_path("sample_repo"), work,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        _git(work, "init", "-q", "--initial-branch=main")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", "Sample project: inventory 0.3.0")
        if dest.exists():
            dest.rmdir()  # empty, checked above
        work.rename(dest)
    return dest


def _git(repo: Path, *args: str) -> None:
    done = subprocess.run([*_GIT, *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RepoError(f"git {args[0]} failed in {repo}: {done.stderr.strip()}")
