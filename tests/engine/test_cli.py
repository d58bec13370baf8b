"""The `agentdeck` command line, run as a real subprocess against a tmp data dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.enginekit import git, make_repo


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if ok:
            assert done.returncode == 0, done.stderr
        return done
    return run


def test_submit_run_show_logs_diff_accept(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = json.loads(cli("submit", str(repo), "echo hello; echo hi > hi.txt",
                             "--runtime", "local", "--json").stdout)["id"]
    assert cli("list", "--state", "queued").stdout.count(task_id) == 1
    assert "queue empty" in cli("run", "--max-parallel", "2").stdout
    shown = json.loads(cli("show", task_id[:6], "--json").stdout)
    for key in ("id", "state", "review", "exit_code", "error", "attempt", "repo", "base_commit"):
        assert key in shown
    assert (shown["state"], shown["review"], shown["exit_code"]) == ("succeeded", "pending", 0)
    assert shown["base_commit"] == git(repo, "rev-parse", "HEAD")
    assert "hello" in cli("logs", task_id).stdout.splitlines()
    assert "+hi" in cli("diff", task_id).stdout
    assert "committed" in cli("accept", task_id).stdout
    assert (repo / "hi.txt").read_text() == "hi\n"
    listed = json.loads(cli("list", "--json").stdout)
    assert [t["review"] for t in listed] == ["accepted"]


def test_errors_are_one_line_on_stderr_with_nonzero_exit(cli, tmp_path):
    done = cli("submit", str(tmp_path / "missing"), "echo", ok=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr
    done = cli("show", "nope", ok=False)
    assert done.returncode == 1 and "no task with id 'nope'" in done.stderr
    done = cli("submit", str(tmp_path), "echo", "--at", "someday", ok=False)
    assert done.returncode == 1 and "someday" in done.stderr


def test_submitting_from_a_dirty_tree_says_what_the_snapshot_holds(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "README.md").write_text("work in progress\n")
    plain = cli("submit", str(repo), "cat README.md")
    assert "uncommitted changes" in plain.stderr and "--uncommitted" in plain.stderr
    taken = cli("submit", str(repo), "cat README.md", "--uncommitted")
    # Only the runtime choice of "auto" is said; no note about uncommitted work.
    assert [line for line in taken.stderr.splitlines() if "(auto)" not in line] == []
    cli("run")
    assert "work in progress" not in cli("logs", plain.stdout.strip()).stdout
    assert "work in progress" in cli("logs", taken.stdout.strip()).stdout


def test_a_reader_that_stops_early_gets_no_traceback(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    task_id = cli("submit", str(repo), "seq 200000").stdout.strip()
    cli("run")
    env = {**os.environ, "AGENTDECK_HOME": str(tmp_path / "home")}
    piped = subprocess.run(f"{sys.executable} -m engine.cli logs {task_id} | head -1",
                           shell=True, env=env, capture_output=True, text=True, timeout=120)
    assert piped.stdout.startswith("# attempt 1 starting")
    assert piped.stderr == ""


def test_malformed_batch_is_refused_whole_with_the_line(cli, tmp_path):
    repo = make_repo(tmp_path / "repo")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'repo = "{repo}"\n[[task]]\nprompt = "echo one"\n[[task]]\nprompt = 42\n')
    done = cli("batch", str(bad), ok=False)
    assert done.returncode == 1 and "line 5" in done.stderr and "prompt" in done.stderr
    assert json.loads(cli("list", "--json").stdout) == []


def test_batch_submits_every_task_scheduled(cli, tmp_path):
    repo = make_repo(tmp_path / "repo", {"a.py": "1\n", "b.py": "2\n", "c.txt": "3\n"})
    good = tmp_path / "good.toml"
    good.write_text(f'name = "tidy"\nrepo = "{repo}"\n[template]\n'
                    f'prompt = "echo fixing {{path}}"\npaths = ["*.py"]\n')
    ids = json.loads(cli("batch", str(good), "--at", "tonight 01:00", "--json").stdout)["ids"]
    assert len(ids) == 2
    listed = json.loads(cli("list", "--json").stdout)
    assert {t["state"] for t in listed} == {"queued"} and all(t["not_before"] for t in listed)


def test_help_and_agents(cli):
    assert "accept" in cli("--help").stdout
    assert "shell" in cli("agents").stdout
    profiles = json.loads(cli("agents", "--json").stdout)
    assert profiles["shell"]["command"] == ["sh", "-c", "{prompt}"]
