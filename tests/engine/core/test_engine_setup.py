"""A profile's setup script and local files: before the agent, never in its diff."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import make_repo, profiles_home, stdout_lines, wait_done

PROFILES = """
[profiles.withsetup]
kind = "shell"
command = ["sh", "-c", "{prompt}"]
setup = "echo installing; mkdir -p deps && echo lib > deps/lib.txt"
copy_files = [".env", "missing.cfg", "README.md"]

[profiles.badsetup]
kind = "shell"
command = ["sh", "-c", "{prompt}"]
setup = "echo trying; exit 4"
"""


@pytest.fixture
def home(tmp_path) -> Path:
    return profiles_home(tmp_path / "home", PROFILES)


async def test_setup_runs_first_and_local_files_stay_out_of_the_diff(engine, tmp_path):
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", ".gitignore": "deps/\n"})
    (repo / ".env").write_text("TOKEN=local-only\n")
    task = await engine.submit(repo, "cat .env deps/lib.txt; echo x >> .env; echo new > out.txt",
                               agent="withsetup")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    assert stdout_lines(engine, task.id) == ["installing", "TOKEN=local-only", "lib"]
    patch = await engine.get_patch(task.id)
    assert "out.txt" in patch and ".env" not in patch
    assert (repo / ".env").read_text() == "TOKEN=local-only\n", "the user's file is untouched"
    notes = [e.text for e in await engine.get_logs(task.id, limit=None)]
    assert "not copied: missing.cfg (no such file in the repository)" in notes
    assert any(n.startswith("not copied: README.md (tracked by git") for n in notes)


async def test_a_failing_setup_fails_the_task_before_the_agent_runs(engine, repo):
    task = await engine.submit(repo, "echo agent ran", agent="badsetup")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.FAILED
    assert "setup script failed (exit code 4)" in done.error
    assert stdout_lines(engine, task.id) == ["trying"]
