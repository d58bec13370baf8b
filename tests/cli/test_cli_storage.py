"""`agentdeck du`, `agentdeck gc [--dry-run]` and `submit --paths` as real subprocesses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.engine.enginekit import make_repo


def _cli(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "agentdeck.cli.main", *args],
                          env={**os.environ, "AGENTDECK_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def test_du_and_gc_from_the_command_line(tmp_path):
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n", "src/a.py": "a\n", "doc/b.md": "b\n"})
    home = tmp_path / "home"
    task_id = json.loads(_cli(home, "submit", str(repo), "echo hi > src/hi.txt", "--runtime",
                              "local", "--paths", "src", "--json").stdout)["id"]
    _cli(home, "run")
    assert json.loads(_cli(home, "show", task_id, "--json").stdout)["paths"] == ["src"]
    assert not (home / "work" / task_id / "doc").exists()
    usage = json.loads(_cli(home, "du", "--json").stdout)
    assert [t["task_id"] for t in usage["tasks"]] == [task_id]
    assert usage["tasks"][0]["bytes"] > 0 and usage["tasks"][0]["removable"] is None
    assert task_id in _cli(home, "du").stdout

    _cli(home, "accept", task_id, "--branch")
    dry = _cli(home, "gc", "--dry-run").stdout
    assert f"would remove {task_id}" in dry and "(accepted)" in dry
    assert (home / "work" / task_id).exists()
    assert f"removed {task_id}" in _cli(home, "gc").stdout
    assert not (home / "work" / task_id).exists()
    assert "removed 0 task copies" in _cli(home, "gc").stdout


def test_a_bad_paths_entry_is_one_line_and_stores_nothing(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    done = _cli(home, "submit", str(repo), "true", "--paths", "../up", ok=False)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "the path '../up' must be relative" in done.stderr
    assert json.loads(_cli(home, "list", "--json").stdout) == []
