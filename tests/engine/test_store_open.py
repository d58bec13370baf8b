"""Opening the database for real: two processes on a fresh data dir at once."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from engine import store as st
from engine.schema import MIGRATIONS

#: A process that opens the store of each home named on its stdin, answering a line each.
OPENER = """
import sys
from engine import store as st
for line in sys.stdin:
    try:
        st.Store(st.db_path(line.strip())).close()
        print("ok", flush=True)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
"""


def _env(**extra: str) -> dict[str, str]:
    """This worktree's code for subprocesses (the venv's install points elsewhere)."""
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root, **extra}


def test_two_processes_opening_a_fresh_home_at_once_both_succeed(tmp_path):
    """Before, one of the two died ('database is locked' switching to WAL, or 'table tasks
    already exists') in 19 of 20 rounds."""
    openers = [subprocess.Popen([sys.executable, "-c", OPENER], env=_env(), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(2)]
    failures = []
    try:
        for round_ in range(30):
            home = tmp_path / f"home{round_}"
            home.mkdir()
            for proc in openers:  # both read it at once: the race of two fresh starts
                proc.stdin.write(f"{home}\n")
                proc.stdin.flush()
            answers = [proc.stdout.readline().strip() for proc in openers]
            failures += [a for a in answers if a != "ok"]
            version = sqlite3.connect(st.db_path(home)).execute("PRAGMA user_version")
            assert version.fetchone()[0] == len(MIGRATIONS)
    finally:
        for proc in openers:
            proc.stdin.close()
            proc.wait(timeout=60)
    assert failures == []
