"""``agentdeck-gui --self-test``, run as the real program offscreen: the window opens, one
demo task runs on the local runtime, its diff is accepted, and the exit code says so."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def self_test(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "agentdeck.desktop", "--self-test", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_self_test_accepts_a_demo_task_in_the_given_data_dir(tmp_path: Path) -> None:
    home = tmp_path / "data"
    done = self_test(tmp_path, "--data-dir", str(home))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("agentdeck self-test passed: task ")
    assert "diff was accepted" in done.stdout
    assert (home / "ui.ini").is_file()  # the window ran in this data dir, not another


def test_a_failing_step_is_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    home = tmp_path / "data"
    home.mkdir()
    (home / "agents.toml").write_text('[profiles.shell]\ncommand = ["sh", "-c", "exit 7 # {prompt}"]\n')
    done = self_test(tmp_path, "--data-dir", str(home))
    assert done.returncode == 1
    failure = [line for line in done.stderr.splitlines() if "self-test" in line]
    assert len(failure) == 1 and failure[0].startswith("agentdeck self-test failed: the demo task")
    assert "failed" in failure[0].removeprefix("agentdeck self-test failed:")
    assert done.stdout == ""
