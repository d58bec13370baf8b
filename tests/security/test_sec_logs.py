"""Findings 9 (engine side) and 11 (file modes): a flooding agent neither fills the
database nor the engine's memory, and what agentdeck stores is readable by its user only.

Real engine, real local runtime (the agent confined as by default), real SQLite.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.logs.sink import MAX_LOG_SETTING
from agentdeck.engine.models import EntryKind, Stream, TaskState
from agentdeck.engine.runtimes.lines import BATCH_LINES
from agentdeck.engine.runtimes.local.tail import MAX_IN_FLIGHT_LINES
from tests.engine.enginekit import make_repo, open_engine, wait_done, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "engine" / "fixtures"
LINE = "flood " + "x" * 57          # 64 bytes with its newline
CAP = 100_000


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_past_the_cap_lines_are_dropped_counted_and_said_once(tmp_path):
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home")
    try:
        await engine.update_settings(**{MAX_LOG_SETTING: CAP})
        task = await engine.submit(repo, f"yes '{LINE}' | head -n 20000; echo after", runtime="local")
        done = await wait_done(engine, task.id, timeout=60)
        entries = await engine.get_logs(task.id, limit=None)
    finally:
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    out = [e for e in entries if e.stream == Stream.STDOUT]
    stored = sum(len(e.text.encode()) + 1 for e in out)
    assert out and stored <= CAP and all(e.text == LINE for e in out)
    marks = [e for e in entries if "output truncated" in e.text]
    assert len(marks) == 1 and marks[0].kind == EntryKind.ERROR
    printed = 20000 * 64 + len("after\n")
    assert marks[0].data["dropped_bytes"] == printed - stored  # the final count
    assert f"output truncated: {printed - stored} bytes dropped" in marks[0].text
    assert "after" not in {e.text for e in out}


async def test_facts_in_dropped_lines_still_reach_the_task(tmp_path):
    """A Claude Code stream whose result (usage, session id) comes after the cap."""
    transcript = (FIXTURES / "claude_write.jsonl").read_text()
    repo = make_repo(tmp_path / "repo", {"README.md": "hi\n", "transcript.jsonl": transcript})
    home = tmp_path / "home"
    home.mkdir()
    (home / "agents.toml").write_text(
        '[profiles.floody]\nkind = "claude_code"\n'
        f'command = ["sh", "-c", "yes \'{LINE}\' | head -n 5000; cat transcript.jsonl", "{{prompt}}"]\n')
    engine = await open_engine(home)
    try:
        await engine.update_settings(**{MAX_LOG_SETTING: CAP})
        task = await engine.submit(repo, "go", agent="floody", runtime="local")
        done = await wait_done(engine, task.id, timeout=60)
        entries = await engine.get_logs(task.id, limit=None)
    finally:
        await engine.close()
    assert not any(e.kind == EntryKind.USAGE for e in entries)  # the result line was dropped
    assert any("output truncated" in e.text for e in entries)
    assert done.session_id == "1a73426f-55d7-4eb4-acaa-8d99f2625393"
    assert done.tokens_out > 0 and done.cost_usd > 0


async def test_a_flood_waits_for_the_store_instead_of_piling_up_in_memory(tmp_path):
    """The entries queued for the store (what grew the engine to gigabytes) stay bounded
    by the reader's in-flight limit while 600 k lines pour in."""
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(tmp_path / "home")
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.002):
            peak[0] = max(peak[0], engine.store.log_backlog)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        task = await engine.submit(repo, f"yes '{LINE}' | head -n 600000", runtime="local")
        done = await wait_done(engine, task.id, timeout=300)
        stored = engine.store.log_count(task.id)
    finally:
        stop.set()
        sampler.join()
        await engine.close()
    assert done.state == TaskState.SUCCEEDED, done.error
    assert stored >= 600_000              # all of it arrived: nothing was dropped
    assert 0 < peak[0] <= MAX_IN_FLIGHT_LINES + 4 * BATCH_LINES, peak[0]


async def test_data_dir_database_and_logs_are_private(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)                    # as an older version left it
    db = st.db_path(home)
    st.Store(db).close()
    os.chmod(db, 0o644)
    repo = make_repo(tmp_path / "repo")
    engine = await open_engine(home)
    try:
        task = await engine.submit(repo, "echo private-marker; echo err-marker >&2; sleep 30",
                                   runtime="local")
        logs: list[Path] = []

        def written() -> bool:  # the logs of the running agent, checked while it runs
            logs[:] = sorted(home.glob("runs/*/1/*.log"))
            return len(logs) == 3 and all(p.stat().st_size for p in logs[:2])

        await wait_until(written, timeout=60, what="the agent's output logs")
        files = [db] + [db.with_name(db.name + s) for s in ("-wal", "-shm")]
        assert all(f.exists() for f in files)
        assert mode(home) == 0o700
        assert [mode(f) for f in files] == [0o600] * 3
        assert [p.name for p in logs] == ["stderr.log", "stdout.log", "supervisor.log"]
        assert [mode(p) for p in logs] == [0o600] * 3 and mode(logs[0].parent) == 0o700
        assert "private-marker" in logs[1].read_text()
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # Another local user tries to read them: the trace would be the marker.
            for path in [*logs, db]:
                other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                                        "--clear-groups", "cat", str(path)],
                                       capture_output=True, text=True)
                assert other.returncode != 0 and "private-marker" not in other.stdout
        await engine.cancel(task.id)
    finally:
        await engine.close()


def test_a_data_dir_that_cannot_be_made_private_is_refused(tmp_path):
    from agentdeck.engine.errors import InvalidInput
    from agentdeck.engine.config.paths import private_dir
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InvalidInput, match="AGENTDECK_HOME"):
        private_dir(blocker / "home")
