"""Finding 4 (and the local side of 9 and 11): a hostile agent on the local runtime, confined
by real bubblewrap through a real engine. Each attack leaves a trace when it works; each test
also checks the attack really ran (its own output, its error), so "blocked" is told apart
from "never tried"."""
from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import stat
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.models import AgentProfile, Stream, TaskState
from agentdeck.engine.runtimes.base import LaunchSpec
from agentdeck.engine.runtimes.local.runtime import LocalRuntime
from agentdeck.engine.runtimes.local.supervise import STDOUT_LOG, truncation_marker
from tests.engine.enginekit import make_repo, open_engine, wait_done

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is installed by make test (scripts/system-deps.sh)")

PROFILES = """
[profiles.open]
kind = "shell"
command = ["sh", "-c", "{prompt}"]
sandbox = "none"

[profiles.web]
kind = "shell"
command = ["sh", "-c", "{prompt}"]
network = true
options = { egress = ["127.0.0.1:%(allowed)d"] }
"""


async def run_task(home: Path, repo: Path, prompt: str, agent: str = "shell"):
    """Run one task to its end on the local runtime: (task, log texts, stdout lines)."""
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, prompt, agent=agent, runtime="local")
        done = await wait_done(engine, task.id, timeout=60)
        entries = await engine.get_logs(task.id, limit=None)
    finally:
        await engine.close()
    out = [e.text for e in entries if e.stream is Stream.STDOUT]
    return done, [e.text for e in entries], out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


class Server:
    """A real HTTP server on 127.0.0.1 that counts the requests it got."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                hits.append(self.path)
                body = b"reached-the-host\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.hits = hits
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


def _fetch(url: str, proxy: bool = False) -> str:
    """A shell command fetching ``url`` with python3 (through the proxy vars or not)."""
    opener = "urllib.request.build_opener()" if proxy else \
        "urllib.request.build_opener(urllib.request.ProxyHandler({}))"
    code = (f"import urllib.request\ntry: print('got', {opener}.open('{url}', timeout=5).read().decode().strip())\n"
            "except Exception as e: print('fetch failed:', e)")
    return f"python3 -c \"{code}\""


@pytest.mark.skipif(os.geteuid() != 0, reason="the attack is on root-only files: run as root")
async def test_root_only_files_stay_unreadable_when_the_engine_is_root(tmp_path, repo):
    shadow = Path("/etc/shadow").read_text()
    assert shadow.strip(), "the host's /etc/shadow should have content"
    done, log, out = await run_task(tmp_path / "home", repo,
                                    "cat /etc/shadow /etc/gshadow; echo tried: $(wc -c < /etc/shadow)")
    assert "tried: 0" in out  # it ran, and saw an empty file
    first = shadow.splitlines()[0]
    assert not any(first in line for line in log)


async def test_the_real_home_is_invisible(tmp_path, repo, monkeypatch):
    home = tmp_path / "user-home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE-KEY-MARKER-6731\n")
    monkeypatch.setenv("HOME", str(home))
    done, log, out = await run_task(
        tmp_path / "home", repo,
        f"cat {home}/.ssh/id_rsa ~/.ssh/id_rsa 2>&1; echo home=$HOME; ls -A ~ | wc -l")
    assert not any("PRIVATE-KEY-MARKER" in line for line in log)
    assert any(f"{home}/.ssh/id_rsa" in line and "No such file" in line for line in out)
    assert "home=/home/agent" in out and out[-1] == "0"  # its own home, empty


async def test_an_agent_installed_in_the_home_sees_only_its_own_install(tmp_path):
    """A CLI installed as ``~/.local/bin/tool`` (a link, as pipx and npm make it) runs,
    yet the rest of ``~/.local`` (other programs' data, tokens) stays out of sight."""
    local = tmp_path / "user-home" / ".local"
    install = local / "share" / "pipx" / "venvs" / "tool"
    install.mkdir(parents=True)
    (local / "share" / "token.json").write_text("TOKEN-MARKER-5521\n")
    program = install / "tool"
    program.write_text(f"#!/usr/bin/env sh\necho tool-ran\ncat {local}/share/token.json > stolen.txt\n")
    program.chmod(0o755)
    (local / "bin").mkdir()
    (local / "bin" / "tool").symlink_to(program)
    work = tmp_path / "work"
    work.mkdir()
    spec = LaunchSpec("home-install", 1, (str(local / "bin" / "tool"),), work, AgentProfile("t"))
    runtime = LocalRuntime(runs_dir=tmp_path / "runs")
    lines: list[str] = []
    try:
        sandbox = await runtime.start(spec, lambda stream, batch, cursor: lines.extend(batch))
        await sandbox.wait()
    finally:
        await runtime.close()
    assert "tool-ran" in lines, lines        # the attack ran
    assert (work / "stolen.txt").read_text() == ""  # and found nothing to steal


async def test_writes_outside_the_working_copy_do_not_reach_the_host(tmp_path, repo):
    outside = tmp_path / "outside"
    outside.mkdir()
    done, log, out = await run_task(
        tmp_path / "home", repo,
        f"echo pwned > {outside}/marker 2>&1; echo pwned > /usr/marker 2>&1; "
        f"echo inside > inside.txt; echo wrote")
    assert not (outside / "marker").exists() and not Path("/usr/marker").exists()
    assert "wrote" in out and done.state == TaskState.SUCCEEDED
    assert done.files_changed == 1  # the working copy itself is writable


async def test_other_tasks_copies_and_the_data_dir_are_invisible(tmp_path, repo):
    home = tmp_path / "home"
    first, _, _ = await run_task(home, repo, "echo FIRST-TASK-SECRET > mine.txt")
    first_copy = Path(first.workdir)
    assert (first_copy / "mine.txt").exists()
    database = st.db_path(home)
    assert database.exists()
    done, log, out = await run_task(
        home, repo, f"cat {first_copy}/mine.txt 2>&1; ls {home} 2>&1; "
                    f"wc -c < {database} 2>&1; echo looked")
    assert not any("FIRST-TASK-SECRET" in line for line in log)
    assert "looked" in out
    assert sum("No such file" in line for line in log) >= 2
    assert not any(line.strip().isdigit() for line in out)  # the database was not read


async def test_a_detached_process_dies_with_the_task(tmp_path, repo):
    # The orphan writes in the working copy (visible on the host at the same path) at once,
    # and a second marker after 2 s, long after the agent itself exited.
    done, log, out = await run_task(
        tmp_path / "home", repo,
        "setsid sh -c 'touch early; sleep 2; touch late' </dev/null >/dev/null 2>&1 & "
        "( sh -c 'sleep 2; touch late2' & ) ; sleep 0.3; echo detached")
    work = Path(done.workdir)
    assert "detached" in out and (work / "early").exists()  # the orphan did run
    await asyncio.sleep(4)
    assert not (work / "late").exists() and not (work / "late2").exists()


async def test_network_none_cannot_reach_a_host_server(tmp_path, repo, server):
    done, log, out = await run_task(tmp_path / "home", repo,
                                    _fetch(f"http://127.0.0.1:{server.port}/attack"))
    assert any(line.startswith("fetch failed:") for line in out), out
    assert server.hits == []


async def test_egress_reaches_only_the_allowlist_through_the_proxy(tmp_path, repo, server):
    other = Server()
    try:
        home = tmp_path / "home"
        home.mkdir()
        (home / "agents.toml").write_text(PROFILES % {"allowed": server.port})
        prompt = "; ".join([
            _fetch(f"http://127.0.0.1:{server.port}/allowed", proxy=True),
            _fetch(f"http://127.0.0.1:{other.port}/refused", proxy=True),
            _fetch(f"http://127.0.0.1:{server.port}/direct")])
        done, log, out = await run_task(home, repo, prompt, agent="web")
    finally:
        other.close()
    fetched = [line for line in out if line.startswith(("got", "fetch failed"))]
    assert fetched[0] == "got reached-the-host"
    assert "403" in fetched[1] and other.hits == []
    assert fetched[2].startswith("fetch failed")  # no way around the proxy
    assert server.hits == ["/allowed"]


async def test_sandbox_none_runs_unconfined_and_says_so(tmp_path, repo, server):
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(PROFILES % {"allowed": 1})
    outside = tmp_path / "outside-marker"
    done, log, out = await run_task(home, repo, f"touch {outside}; " +
                                    _fetch(f"http://127.0.0.1:{server.port}/open"), agent="open")
    assert outside.exists() and server.hits == ["/open"]  # truly unconfined
    assert any(line.startswith('sandbox: none (the profile sets sandbox = "none")') for line in log)


async def test_without_bubblewrap_the_task_fails_naming_the_fix(tmp_path, repo, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in os.listdir("/usr/bin"):
        if name != "bwrap":
            (bin_dir / name).symlink_to(Path("/usr/bin") / name)
    monkeypatch.setenv("PATH", str(bin_dir))
    marker = tmp_path / "ran-unconfined"
    done, log, out = await run_task(tmp_path / "home", repo, f"touch {marker}")
    assert done.state == TaskState.FAILED
    assert "apt-get install bubblewrap" in done.error and 'sandbox = "none"' in done.error
    assert not marker.exists()


# ---- the supervisor: masked and capped before disk -------------------------------------

async def test_secrets_never_reach_the_log_file_and_output_is_capped(tmp_path):
    secret = "sk-live-SECRET-value-0042"
    work = tmp_path / "work"
    work.mkdir()
    code = textwrap.dedent(f"""
        import sys, time
        s = {secret!r}
        sys.stdout.write("key=" + s[:7]); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write(s[7:] + "\\n"); sys.stdout.flush()
        open("printed", "w").close()
        time.sleep(1.5)
        sys.stdout.write("x" * 3_000_000 + "\\n"); sys.stdout.flush()
        print("still running after the cap", file=sys.stderr)
    """)
    profile = AgentProfile("t", secrets=("KEY",))
    spec = LaunchSpec("mask", 1, (sys.executable, "-c", code), work, profile, env={"KEY": secret})
    runtime = LocalRuntime(runs_dir=tmp_path / "runs", max_output_bytes=1_000_000)
    lines: list[str] = []
    try:
        sandbox = await runtime.start(spec, lambda stream, batch, cursor: lines.extend(batch))
        log_file = Path(sandbox.ref) / STDOUT_LOG
        deadline = time.monotonic() + 20
        while not (work / "printed").exists():  # the secret is printed: look at the disk now
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert b"key=" in log_file.read_bytes() and secret.encode() not in log_file.read_bytes()
        assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
        outcome = await sandbox.wait()
        data = log_file.read_bytes()
    finally:
        await runtime.close()
    assert outcome.exit_code == 0 and "still running after the cap" in lines
    assert secret.encode() not in data and len(data) < 1_000_100
    dropped = len("key=••••••\n".encode()) + 3_000_001 - 1_000_000
    assert data.endswith(b"\n" + truncation_marker(dropped))
