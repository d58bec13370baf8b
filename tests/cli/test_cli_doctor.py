"""`agentdeck doctor` and the log file, through the real CLI in subprocesses."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from agentdeck.engine.store import db as st
from tests.engine.doctorkit import bin_dir, gone_endpoint, make_home, read_only


def _cli(home, *args, path=None, wrap=()):
    env = {**os.environ, "AGENTDECK_HOME": str(home)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([*wrap, sys.executable, "-m", "agentdeck.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _home(tmp_path, profiles=None):
    return make_home(tmp_path / "home", {"docker_endpoints": [gone_endpoint(tmp_path)]}, profiles)


def test_doctor_prints_a_table_with_the_fix_of_each_problem_and_exits_0(tmp_path):
    done = _cli(_home(tmp_path), "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "local sandbox" in lines and "agents" in lines
    endpoint = next(i for i, line in enumerate(lines) if "endpoint gone" in line)
    assert lines[endpoint].split()[0] == "warn" and "does not answer" in lines[endpoint]
    assert "fix:" in lines[endpoint + 1]
    assert lines[-1].startswith("ready: the profiles you use (shell on local)")
    assert done.stderr == ""


def test_doctor_json_lists_every_check_and_what_decided_them(tmp_path):
    done = _cli(_home(tmp_path), "doctor", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"] is True
    assert report["needs"] == {"default_runtime": "auto", "docker_usable": False,
                               "profiles": {"shell": "local"}}
    names = {c["name"] for c in report["checks"]}
    assert {"data dir", "free space", "database schema", "database integrity", "bubblewrap",
            "user namespaces", "egress guard", "keyring", "endpoint gone"} <= names
    assert all(set(c) == {"group", "name", "status", "detail", "fix"} for c in report["checks"])


def test_a_cli_a_used_profile_needs_missing_from_path_exits_1(tmp_path):
    home = _home(tmp_path, '[profiles.aider]\nruntime = "local"\n')
    done = _cli(home, "doctor", path=bin_dir(tmp_path / "bin", "sh", "bwrap"))
    assert done.returncode == 1
    aider = next(line for line in done.stdout.splitlines() if "aider (aider)" in line)
    assert aider.split()[0] == "FAIL" and "not on PATH" in aider
    assert "fix: install it: pip install aider-chat" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("1 problem(s) stop the profiles you use")


def test_doctor_on_a_corrupt_database_exits_1_and_says_to_move_it_aside(tmp_path):
    home = _home(tmp_path)
    st.db_path(home).write_bytes(b"garbage" * 1000)
    done = _cli(home, "doctor")
    assert done.returncode == 1
    assert f"fix: move it aside to start with an empty history (mv {st.db_path(home)}" in done.stdout


def test_doctor_on_a_read_only_data_dir_exits_1(tmp_path):
    home = _home(tmp_path)
    done = _cli(home, "doctor", "--json", wrap=read_only(ro=home))
    assert done.returncode == 1, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["data dir"]["status"] == "fail"
    assert done.stderr == ""  # the data dir check says it; no second note


def test_doctor_makes_no_data_dir(tmp_path):
    done = _cli(tmp_path / "new" / "home", "doctor", "--json")
    data = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "data dir")
    assert "not made yet" in data["detail"] and data["status"] == "ok"
    assert not (tmp_path / "new").exists()


def test_a_cli_command_writes_the_log_file(tmp_path):
    home = tmp_path / "home"
    done = _cli(home, "list")
    assert done.returncode == 0, done.stderr
    log = home / "logs" / "agentdeck.log"
    assert "INFO agentdeck.cli: agentdeck list\n" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert done.stderr == ""
