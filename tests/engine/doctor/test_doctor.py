"""`diagnose` against real parts: bubblewrap, a Docker socket nothing listens on, real
SQLite files (a corrupt one, a newer one), a read-only mount, a PATH without the agent
CLIs. The Docker daemon itself: tests/integration/test_doctor_docker.py."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess

import pytest

from agentdeck.engine.api import Status, diagnose
from agentdeck.engine.store import db as st
from tests.engine.doctorkit import PYTHON, bin_dir, gone_endpoint, make_home, read_only

LOCAL_AIDER = '[profiles.aider]\nruntime = "local"\n'


def _by_name(report):
    return {c.name: c for c in report.checks}


def _find(report, prefix):
    found = [c for c in report.checks if c.name.startswith(prefix)]
    assert len(found) == 1, [c.name for c in report.checks]
    return found[0]


@pytest.fixture
def no_docker(tmp_path):
    """Settings naming a Docker daemon that does not answer ("auto" then runs locally)."""
    return {"docker_endpoints": [gone_endpoint(tmp_path)]}


def test_a_ready_machine_passes_with_versions_and_the_sandbox_probed(tmp_path, no_docker):
    report = asyncio.run(diagnose(make_home(tmp_path / "home", no_docker)))
    checks = _by_name(report)
    assert report.ok, [c for c in report.checks if c.status == Status.FAIL]
    assert checks["bubblewrap"].status == Status.OK
    assert checks["user namespaces"].status == Status.OK  # a real sandbox was made
    assert checks["database schema"].detail.endswith("(current)")
    assert checks["database integrity"].status == Status.OK
    assert checks["data dir"].status == Status.OK and "GiB free" in checks["free space"].detail
    assert report.needs["profiles"] == {"shell": "local"}
    # Under "auto" a daemon that does not answer only warns: tasks run locally.
    endpoint = checks["endpoint gone"]
    assert endpoint.status == Status.WARN and "does not answer" in endpoint.detail
    assert endpoint.fix


def test_a_missing_cli_warns_unless_a_profile_you_use_runs_it_locally(tmp_path, no_docker):
    path = bin_dir(tmp_path / "bin", "sh", "bwrap")
    unused = asyncio.run(diagnose(make_home(tmp_path / "a", no_docker), path=path))
    aider = _find(unused, "aider")
    assert (aider.status, aider.detail) == (Status.WARN, "not on PATH")
    assert "pip install aider-chat" in aider.fix
    assert unused.ok

    used = asyncio.run(diagnose(make_home(tmp_path / "b", no_docker, LOCAL_AIDER), path=path))
    assert _find(used, "aider").status == Status.FAIL
    assert _find(used, "claude").status == Status.WARN  # not in agents.toml: not used
    assert not used.ok
    assert used.needs["profiles"] == {"aider": "local", "shell": "local"}


def test_a_cli_on_path_is_reported_with_its_version(tmp_path, no_docker):
    """The real shell profile runs sh; a profile of a known kind reports a version."""
    script = tmp_path / "bin" / "aider"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho 'aider 9.8.7'\n")
    script.chmod(0o755)
    path = bin_dir(tmp_path / "bin", "sh", "bwrap")
    report = asyncio.run(diagnose(make_home(tmp_path / "h", no_docker, LOCAL_AIDER), path=path))
    aider = _find(report, "aider")
    assert aider.status == Status.OK and aider.detail == f"aider 9.8.7 ({script})"


def test_without_bubblewrap_the_local_runtime_fails_with_the_install_hint(tmp_path, no_docker):
    path = bin_dir(tmp_path / "bin", "sh")
    report = asyncio.run(diagnose(make_home(tmp_path / "home", no_docker), path=path))
    bwrap = _by_name(report)["bubblewrap"]
    assert bwrap.status == Status.FAIL and "apt-get install bubblewrap" in bwrap.fix
    assert not report.ok


def test_a_docker_default_runtime_with_no_daemon_fails(tmp_path, no_docker):
    home = make_home(tmp_path / "home", {**no_docker, "default_runtime": "docker"})
    report = asyncio.run(diagnose(home))
    endpoint = _by_name(report)["endpoint gone"]
    assert endpoint.status == Status.FAIL and "does not answer" in endpoint.detail
    assert report.needs["profiles"] == {"shell": "docker"}
    assert not report.ok


def test_a_file_that_is_not_a_database_fails_and_says_move_it_aside(tmp_path, no_docker):
    home = make_home(tmp_path / "home", no_docker)
    st.db_path(home).write_bytes(b"this is not SQLite\n" * 500)
    report = asyncio.run(diagnose(home))
    check = _by_name(report)["database integrity"]
    assert check.status == Status.FAIL and "corrupt" in check.detail
    assert f"mv {st.db_path(home)}" in check.fix
    assert not report.ok


def test_a_damaged_page_is_found_by_the_integrity_check(tmp_path, no_docker):
    home = make_home(tmp_path / "home", no_docker)
    conn = sqlite3.connect(st.db_path(home))
    conn.executemany("INSERT INTO settings VALUES (?, ?)",
                     [(f"k{i}", json.dumps("x" * 200)) for i in range(2000)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'settings'").fetchone()[0]
    conn.close()
    with open(st.db_path(home), "r+b") as file:  # scribble over the table's cell pointers
        file.seek((root - 1) * page + 12)
        file.write(b"\xff" * 200)
    check = _by_name(asyncio.run(diagnose(home)))["database integrity"]
    assert check.status == Status.FAIL and "mv " in check.fix


def test_a_database_newer_than_this_agentdeck_fails(tmp_path, no_docker):
    home = make_home(tmp_path / "home", no_docker)
    conn = sqlite3.connect(st.db_path(home))
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    schema = _by_name(asyncio.run(diagnose(home)))["database schema"]
    assert schema.status == Status.FAIL and "upgrade agentdeck" in schema.fix


def test_a_read_only_data_dir_fails_and_its_database_is_still_read(tmp_path, no_docker):
    home = make_home(tmp_path / "home", no_docker)
    code = ("import asyncio, json, sys; from agentdeck.engine.api import diagnose; "
            "print(json.dumps(asyncio.run(diagnose(sys.argv[1])).to_dict()))")
    done = subprocess.run(read_only(PYTHON, "-c", code, str(home), ro=home),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["data dir"]["status"] == "fail"
    assert "cannot be written" in checks["data dir"]["detail"]
    assert "AGENTDECK_HOME" in checks["data dir"]["fix"]
    assert checks["database integrity"]["status"] == "ok"  # read-only, as immutable
    assert not list(home.glob(".doctor-*"))


def test_a_broken_agents_toml_fails_and_names_its_line(tmp_path, no_docker):
    home = make_home(tmp_path / "home", no_docker, "[profiles.aider]\nruntime = 3\n")
    check = _by_name(asyncio.run(diagnose(home)))["agent profiles"]
    assert check.status == Status.FAIL and "line 2" in check.detail
