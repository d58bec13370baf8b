"""Real agentdeck processes for engine tests: the CLI in a subprocess, the lease row, task
rows read straight from the database file (no engine of the test's own in between)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from agentdeck.engine.store import db as st
ROOT = Path(__file__).resolve().parents[2]


def cli_env(home: Path) -> dict[str, str]:
    """The environment of an `agentdeck` subprocess on ``home`` running this checkout."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "AGENTDECK_HOME": str(home), "PYTHONPATH": path}


def start_cli(home: Path, *args: str) -> subprocess.Popen:
    """`agentdeck ARGS...` in a subprocess; its stdout and stderr are pipes."""
    return subprocess.Popen([sys.executable, "-m", "agentdeck.cli.main", *args], env=cli_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def query(home: Path, sql: str, *args: Any) -> list[tuple]:
    conn = sqlite3.connect(f"file:{st.db_path(home)}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def task_state(home: Path, task_id: str) -> str:
    return query(home, "SELECT state FROM tasks WHERE id=?", task_id)[0][0]


def stored_lines(home: Path, task_id: str) -> int:
    return query(home, "SELECT (SELECT COUNT(*) FROM logs WHERE task_id=?) + (SELECT"
                       " COALESCE(SUM(entries), 0) FROM log_chunks WHERE task_id=?)",
                 task_id, task_id)[0][0]


def lease_pid(home: Path) -> int | None:
    """The pid of the process holding an unexpired queue lease (None: nobody, or the
    database is still being made)."""
    try:
        rows = query(home, "SELECT pid, expires_at FROM lease WHERE id=1")
    except sqlite3.OperationalError:  # no file or no table yet
        return None
    return rows[0][0] if rows and rows[0][1] > time.time() else None


def lease_held(home: Path) -> bool:
    return lease_pid(home) is not None


def poll(predicate: Callable[[], bool], timeout: float, what: str,
         proc: subprocess.Popen | None = None) -> None:
    """Wait for ``predicate``; fail saying ``what`` (and how ``proc`` ended, if it did)."""
    end = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended first ({proc.returncode}): "
                                 + proc.stderr.read())
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """Wait for ``proc`` (killed if it outlives ``timeout``): code, stdout, stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"process did not end: {err}") from None
    return proc.returncode, out, err


def reap(proc: subprocess.Popen) -> None:
    """At teardown: a process the test left running is killed (its agents are not)."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()
