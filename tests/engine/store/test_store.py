"""The SQLite store on a real file: migrations, batched logs with cursors, CAS, lease."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from agentdeck.engine.store import db as st
from agentdeck.engine.store import writes as wr
from agentdeck.engine.store.schema import MIGRATIONS
from agentdeck.engine.errors import IllegalTransition, NotFound, StoreError
from agentdeck.engine.models import EntryKind, LogEntry, ReviewState, Stream, Task, TaskState


@pytest.fixture
def store(tmp_path):
    s = st.Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


def _task(task_id="t1", **kw):
    return Task(id=task_id, prompt="do it", repo="/tmp/r", **kw)


def _entries(task_id, first, count):
    return [LogEntry(task_id, seq, time.time(), 1, Stream.STDOUT, EntryKind.RAW, f"line {seq}")
            for seq in range(first, first + count)]


def test_schema_version_is_recorded_and_wal_is_on(store, tmp_path):
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "db.sqlite3"
    st.Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer than this agentdeck"):
        st.Store(path)


def test_logs_and_cursor_are_written_together(store):
    store.write_sync(wr.insert_tasks([_task()]))
    store.append_logs(_entries("t1", 1, 3), ("t1", "cursor-3"))
    store.append_logs(_entries("t1", 4, 2), ("t1", "cursor-5"))
    store.flush()
    assert [e.text for e in store.get_logs("t1")] == [f"line {i}" for i in range(1, 6)]
    assert store.get_cursor("t1") == "cursor-5"
    assert store.last_seq("t1") == 5
    assert [e.seq for e in store.get_logs("t1", after_seq=2, limit=2)] == [3, 4]
    assert [e.seq for e in store.get_logs("t1", limit=2, newest=True)] == [4, 5]


def test_logs_are_flushed_without_an_explicit_flush(store):
    store.write_sync(wr.insert_tasks([_task()]))
    store.append_logs(_entries("t1", 1, 10))
    deadline = time.time() + 5
    while store.log_count("t1") < 10 and time.time() < deadline:
        time.sleep(0.01)
    assert store.log_count("t1") == 10


def test_state_changes_are_compare_and_set(store):
    store.write_sync(wr.insert_tasks([_task()]))
    task = store.write_sync(wr.update_task("t1", expect=[TaskState.QUEUED],
                                           state=TaskState.PREPARING))
    assert task.state == TaskState.PREPARING
    with pytest.raises(IllegalTransition, match="is preparing, not queued"):
        store.write_sync(wr.update_task("t1", expect=[TaskState.QUEUED],
                                        state=TaskState.PREPARING))


def test_illegal_transitions_raise_and_write_nothing(store):
    store.write_sync(wr.insert_tasks([_task()]))
    with pytest.raises(IllegalTransition, match="queued -> succeeded"):
        store.write_sync(wr.update_task("t1", state=TaskState.SUCCEEDED, exit_code=0))
    assert store.get_task("t1").exit_code is None
    with pytest.raises(IllegalTransition, match="none -> accepted"):
        store.write_sync(wr.update_task("t1", review=ReviewState.ACCEPTED))
    with pytest.raises(NotFound):
        store.write_sync(wr.update_task("nope", state=TaskState.CANCELLED))


def test_batch_insert_is_all_or_nothing(store):
    store.write_sync(wr.insert_tasks([_task("dup")]))
    with pytest.raises(sqlite3.IntegrityError):
        store.write_sync(wr.insert_tasks([_task("new1"), _task("dup")]))
    assert store.find_task_ids("new1") == []


def test_queries_filter_and_count(store):
    store.write_sync(wr.insert_tasks([_task("a", title="fix api"), _task("b", batch_id="B"),
                                      _task("c", state=TaskState.FAILED)]))
    assert [t.id for t in store.list_tasks(search="api")] == ["a"]
    assert [t.id for t in store.list_tasks(batch_id="B")] == ["b"]
    assert {t.id for t in store.list_tasks(state=["queued"])} == {"a", "b"}
    counts = store.counts()
    assert counts["queued"] == 2 and counts["failed"] == 1 and counts["review_pending"] == 0
    assert store.batch_progress("B") == {"total": 1, "done": 0, "failed": 0, "running": 0,
                                         "queued": 1}


def test_lease_is_exclusive_until_its_owner_dies(store):
    assert store.write_sync(wr.take_lease("me", 60))
    assert store.write_sync(wr.take_lease("me", 60)), "the owner renews its own lease"
    assert not store.write_sync(wr.take_lease("other", 60))
    store.write_sync(wr.release_lease("me"))
    assert store.write_sync(wr.take_lease("other", 60))


def test_lease_of_a_dead_process_is_taken_at_once(tmp_path):
    path = tmp_path / "db.sqlite3"
    st.Store(path).close()
    code = ("import sys; from agentdeck.engine.store import db as st, writes as wr; "
            "s = st.Store(sys.argv[1]); print(s.write_sync(wr.take_lease('dead', 600)) is not None); s.close()")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "True"
    s = st.Store(path)
    try:
        assert s.write_sync(wr.take_lease("alive", 60)), "the holder's process is gone"
    finally:
        s.close()


def _old_database(path, version: int, state: str) -> None:
    """A database made by the first ``version`` migrations, holding task 'old'."""
    import sqlite_utils
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:version]:
        step(sqlite_utils.Database(conn))
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO tasks (id, prompt, repo, state, review, attempt, created_at,"
                 " include_uncommitted) VALUES ('old', 'p', '/r', ?, 'none', 1, 0, 0)",
                 (state,))
    conn.commit()
    conn.close()


def test_a_version_1_database_is_migrated_keeping_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    _old_database(path, 1, "failed")
    s = st.Store(path)
    try:
        task = s.get_task("old")
        assert task.state == TaskState.FAILED and task.budget_usd is None
        s.write_sync(wr.update_task("old", budget_usd=2.5))
        assert s.get_task("old").budget_usd == 2.5
    finally:
        s.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_database_made_before_task_groups_gets_them_keeping_its_rows(tmp_path):
    from agentdeck.engine.store.schema import _m6_task_groups
    path = tmp_path / "old.sqlite3"
    _old_database(path, MIGRATIONS.index(_m6_task_groups), "queued")
    s = st.Store(path)
    try:
        assert s.get_task("old").group_id is None
        s.write_sync(wr.update_task("old", group_id="g1"))
        assert [t.id for t in s.list_tasks(group_id="g1")] == ["old"]
    finally:
        s.close()


def test_a_database_from_before_task_paths_opens_with_whole_repo_tasks(tmp_path):
    from agentdeck.engine.store.schema import _m9_task_paths
    path = tmp_path / "old.sqlite3"
    _old_database(path, MIGRATIONS.index(_m9_task_paths), "failed")
    s = st.Store(path)
    try:
        assert s.get_task("old").paths == ()
        s.write_sync(wr.insert_tasks([Task(id="new", prompt="p", repo="/r", paths=("src",))]))
        assert s.get_task("new").paths == ("src",)
    finally:
        s.close()
