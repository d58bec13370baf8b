"""`agentdeck du` and `agentdeck gc` through a real engine on real git repos."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.workspace.space import tree_bytes
from tests.engine.enginekit import make_repo, open_engine, run_succeeded


async def test_gc_dry_run_lists_and_gc_removes_only_what_is_eligible(engine, repo, home):
    accepted = await run_succeeded(engine, repo, "echo a > a.txt")
    rejected = await run_succeeded(engine, repo, "echo r > r.txt")
    pending = await run_succeeded(engine, repo, "echo p > p.txt")
    await engine.accept(accepted.id, branch=True)  # a branch accept keeps the copy
    await engine.reject(rejected.id)
    orphan = home / "work" / "no-such-task"
    (orphan / "sub").mkdir(parents=True)
    (orphan / "sub" / "f").write_text("left behind")

    dry = await engine.collect_garbage(dry_run=True)
    assert {e.task_id: e.removable for e in dry.removable} == {
        accepted.id: "accepted", "no-such-task": "no task has these files"}
    assert orphan.exists() and Path(accepted.workdir).exists()

    await engine.collect_garbage()
    assert not orphan.exists() and not Path(accepted.workdir).exists()
    assert Path(rejected.workdir).exists() and Path(pending.workdir).exists()
    assert await engine.get_diff(pending.id)  # still reviewable

    await engine.update_settings(storage_retention_days=0)
    assert [e.task_id for e in (await engine.collect_garbage()).removable] == [rejected.id]
    assert not Path(rejected.workdir).exists()
    assert Path(pending.workdir).exists(), "a change waiting for review is never removed"


async def test_du_sums_every_task_and_the_repos(tmp_path):
    repo = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    engine = await open_engine(home)
    try:
        first = await run_succeeded(engine, repo, "head -c 200000 /dev/zero > big.bin")
        second = await run_succeeded(engine, repo, "echo small > s.txt")
    finally:
        await engine.close()
    engine = await open_engine(home)  # nothing runs now: the files stay as measured
    try:
        report = await engine.disk_usage()
    finally:
        await engine.close()
    sizes = {e.task_id: e.bytes for e in report.tasks}
    assert sizes[first.id] > sizes[second.id] > 0
    for task in (first, second):
        assert sizes[task.id] == sum(tree_bytes(p) for p in (
            home / "work" / task.id, home / "index" / task.id, home / "runs" / task.id))
    private = sum(tree_bytes(p) for p in (home / "git").glob("*.git"))
    assert report.repos == {str(repo.resolve()): sizes[first.id] + sizes[second.id] + private}
    assert report.total == report.repos[str(repo.resolve())]


def test_a_hard_link_is_counted_once(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    alone = tree_bytes(tmp_path / "a")
    assert tree_bytes(tmp_path) == tree_bytes(tmp_path, set()) < 2 * alone + 8192


async def test_a_bad_retention_is_refused_and_nothing_is_stored(engine):
    with pytest.raises(InvalidInput, match="storage_retention_days must be 0 or more"):
        await engine.update_settings(storage_retention_days=-1)
    assert (await engine.get_settings())["storage_retention_days"] == 7
