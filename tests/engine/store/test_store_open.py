"""Opening the database for real: data dirs that cannot be used (a corrupt file, a
read-only dir) give one line that names the file and the fix, from the engine and from the
`agentdeck` command line. (Two processes on a fresh data dir at once:
tests/faults/test_fault_fresh_home.py.)"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.errors import StoreError
from agentdeck.engine.store.errors import classify
from tests.engine.enginekit import open_engine
from tests.engine.processkit import ROOT

def _env(**extra: str) -> dict[str, str]:
    """This worktree's code for subprocesses (the venv's install points elsewhere)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def corrupt_home(tmp_path) -> Path:
    """A data dir whose database was overwritten with garbage bytes."""
    home = tmp_path / "home"
    st.Store(st.db_path(home)).close()
    st.db_path(home).write_bytes(os.urandom(64 << 10))
    return home


@pytest.fixture
def read_only_home(tmp_path):
    """A data dir with a database, on a read-only mount (as root, whom modes do not stop);
    a dir of mode 0500 otherwise."""
    home = tmp_path / "home"
    st.Store(st.db_path(home)).close()
    if os.geteuid() != 0:
        home.chmod(0o500)
        yield home
        home.chmod(0o700)
        return
    subprocess.run(["mount", "--bind", str(home), str(home)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(home)], check=True)
        yield home
    finally:
        subprocess.run(["umount", "--lazy", str(home)], check=True)  # even if busy


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentdeck.cli.main", *args], text=True,
                          capture_output=True, timeout=120,
                          env=_env(AGENTDECK_HOME=str(home)))


def _assert_one_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    for word in words:
        assert word in done.stderr


async def test_a_corrupt_database_names_its_file_and_the_fix(corrupt_home):
    path = st.db_path(corrupt_home)
    with pytest.raises(StoreError, match="is corrupt") as caught:
        await open_engine(corrupt_home)
    assert caught.value.kind == "corrupt" and caught.value.path == str(path)
    assert str(path) in str(caught.value) and "move it aside" in str(caught.value)
    for command in ("list", "run"):
        _assert_one_line(_cli(corrupt_home, command), str(path), "corrupt", "move it aside")


def test_a_database_corrupt_past_its_header_fails_reads_in_one_line(tmp_path):
    home = tmp_path / "home"
    st.Store(st.db_path(home)).close()
    with open(st.db_path(home), "r+b") as f:  # the header and schema page stay intact
        f.seek(4096)
        f.write(os.urandom(st.db_path(home).stat().st_size - 4096))
    _assert_one_line(_cli(home, "list"), str(st.db_path(home)), "malformed", "move it aside")


async def test_a_read_only_data_dir_names_the_dir_to_make_writable(read_only_home):
    path = st.db_path(read_only_home)
    with pytest.raises(StoreError) as caught:
        await open_engine(read_only_home)
    assert caught.value.kind == "readonly"
    assert f"make {read_only_home} writable" in str(caught.value)
    for command in ("list", "run"):
        _assert_one_line(_cli(read_only_home, command), str(path), "writable")


def test_a_new_database_in_a_read_only_dir_names_the_dir_too(read_only_home):
    with pytest.raises(StoreError, match=f"make {read_only_home} writable") as caught:
        st.Store(read_only_home / "new.sqlite3")
    assert caught.value.kind == "readonly"


def test_a_database_locked_by_another_process_is_named(tmp_path):
    path = tmp_path / "db.sqlite3"
    st.Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        impatient = sqlite3.connect(path, timeout=0)
        with pytest.raises(sqlite3.OperationalError) as caught:
            impatient.execute("DELETE FROM settings")
        impatient.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    error = classify(caught.value, path)
    assert error is not None and error.kind == "locked"
    assert str(error).startswith(f"the database {path} is locked by another process")
