"""The first-run demo seeds an empty data dir once, on the local runtime."""
from __future__ import annotations

from agentdeck.engine.sample.demo import seed_demo
from agentdeck.engine.models import TaskState
from tests.engine.enginekit import git


async def test_demo_is_queued_once_on_a_committed_sample_repo(idle_engine, home):
    tasks = await seed_demo(idle_engine)
    assert len(tasks) >= 6 and len({t.batch_id for t in tasks}) == 1
    assert {t.runtime for t in tasks} == {"local"}
    assert {t.state for t in tasks} == {TaskState.QUEUED}
    repo = home / "sample-repo"
    assert git(repo, "status", "--porcelain") == "" and git(repo, "log", "--oneline")
    assert await seed_demo(idle_engine) == []
