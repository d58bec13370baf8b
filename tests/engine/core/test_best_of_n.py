"""Best-of-N: one prompt as a group of attempts, compared side by side; accepting one
rejects the others and frees their working copies. Real shell agents on the local
runtime, real git, a real SQLite file."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.models import ReviewState, TaskState
from tests.engine.enginekit import git, make_repo, private_refs, profiles_home, wait_done, wait_state

#: A profile whose agent writes its attempt's line and then waits: it is still running
#: when a faster sibling is accepted.
SLOW = '''[profiles.slow]
kind = "shell"
command = ["sh", "-c", "echo slow > pick.txt; sleep 60", "slow", "{prompt}"]
'''

#: A profile whose agent fails, saying why on stderr.
FAILING = '''[profiles.failing]
kind = "shell"
command = ["sh", "-c", "echo 'broke it' >&2; exit 3", "failing", "{prompt}"]
'''


@pytest.fixture
def home(tmp_path) -> Path:
    return profiles_home(tmp_path / "home", SLOW + FAILING)


async def test_three_attempts_accept_one_the_others_end_rejected_and_their_copies_gone(
        engine, repo):
    tasks = await engine.submit_group(repo, "echo one > pick.txt", attempts=3)
    assert len({t.group_id for t in tasks}) == 1 and tasks[0].group_id
    assert len({t.base_commit for t in tasks}) == 1
    done = [await wait_done(engine, t.id) for t in tasks]
    assert [t.state for t in done] == [TaskState.SUCCEEDED] * 3
    copies = [Path(t.workdir) for t in done]
    assert all(copy.is_dir() for copy in copies)

    result = await engine.accept(done[1].id)

    assert result.notes[-1] == (f"the other 2 attempt(s) of group {tasks[0].group_id} were "
                                "rejected and their working copies removed")
    after = [await engine.get_task(t.id) for t in tasks]
    assert [t.review for t in after] == [ReviewState.REJECTED, ReviewState.ACCEPTED,
                                         ReviewState.REJECTED]
    assert not any(copy.exists() for copy in copies)
    assert (repo / "pick.txt").read_text() == "one\n"
    assert git(repo, "rev-list", "--count", "HEAD") == "2"


async def test_accepting_one_cancels_a_sibling_still_running_and_frees_its_copy(
        engine, repo):
    fast, slow = await engine.submit_group(repo, "echo fast > pick.txt",
                                           agents=["shell", "slow"])
    await wait_done(engine, fast.id)
    running = await wait_state(engine, slow.id, {TaskState.RUNNING})
    assert Path(running.workdir).is_dir()

    await engine.accept(fast.id)

    slow = await engine.get_task(slow.id)
    assert (slow.state, slow.review) == (TaskState.CANCELLED, ReviewState.REJECTED)
    assert not Path(slow.workdir).exists()
    assert engine.active_count() == 0
    assert (repo / "pick.txt").read_text() == "fast\n"


async def test_compare_shows_each_attempt_with_its_diff_size_duration_and_failure(
        engine, repo):
    tasks = await engine.submit_group(repo, 'printf "a\\nb\\n" > pick.txt',
                                      agents=["shell", "failing"], title="pick")
    for task in tasks:
        await wait_done(engine, task.id)

    rows = await engine.compare(tasks[0].group_id[:5])

    assert [r.id for r in rows] == [t.id for t in tasks]
    assert [r.title for r in rows] == ["pick [1/2]", "pick [2/2]"]
    good, bad = rows
    assert (good.agent, bad.agent) == ("shell", "failing")
    assert (good.files, good.added, good.removed, good.failure) == (1, 2, 0, None)
    assert bad.state == TaskState.FAILED
    assert bad.failure.splitlines() == ["the agent exited with code 3", "broke it"]
    assert all(r.duration is not None and r.duration >= 0 for r in rows)
    assert await engine.compare(tasks[1].id) == rows  # a member's id finds its group


async def test_a_group_with_an_unknown_profile_is_refused_creating_nothing(engine, repo):
    with pytest.raises(NotFound, match="attempt 3 of the group: no agent profile named 'nope'"):
        await engine.submit_group(repo, "echo hi", agents=["shell", "slow", "nope"])
    with pytest.raises(InvalidInput, match="at least 2 attempts"):
        await engine.submit_group(repo, "echo hi", attempts=1)
    with pytest.raises(InvalidInput, match="at most 12 attempts"):
        await engine.submit_group(repo, "echo hi", agents=["shell", "slow"], attempts=7)
    assert await engine.list_tasks() == []
    assert private_refs(engine.home) == []


async def test_compare_of_a_plain_task_or_an_unknown_id_says_what_is_wrong(engine, repo):
    task = await engine.submit(repo, "true")
    with pytest.raises(InvalidInput, match="not part of a best-of-N group"):
        await engine.compare(task.id)
    with pytest.raises(NotFound, match="no best-of-N group or task with id 'zzz'"):
        await engine.compare("zzz")


async def test_each_attempt_is_tested_and_compare_shows_the_result(engine, tmp_path):
    """The repo's test command (agentdeck.toml at HEAD) runs on each attempt's change in
    its own checkout: the attempt that breaks the tests is marked failed, with the output."""
    repo = make_repo(tmp_path / "repo", {"agentdeck.toml": (
        '[test]\ncommand = "if grep -q bad pick.txt; then echo pick.txt is bad; exit 4; fi"\n')})
    good, bad = await engine.submit_group(repo, "echo good > pick.txt", agents=["shell", "shell"])
    await wait_done(engine, good.id)
    bad_run = await engine.submit(repo, "echo bad > pick.txt")  # tested the same way
    await wait_done(engine, bad_run.id)
    await wait_done(engine, bad.id)

    async def tested(task_id):
        for _ in range(600):
            task = await engine.get_task(task_id)
            if task.test_result in ("passed", "failed", "error"):
                return task
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {task_id} was not tested: {task.test_result}")

    assert (await tested(good.id)).test_result == "passed"
    failed = await tested(bad_run.id)
    assert failed.test_result == "failed" and "exit 4" in failed.test_summary
    assert "pick.txt is bad" in failed.test_summary
    rows = await engine.compare(good.group_id)
    assert [r.test_result for r in rows] == ["passed", "passed"]
    assert rows[0].test_summary.startswith("`if grep") and "passed" in rows[0].test_summary


async def test_no_test_command_leaves_the_result_empty(engine, repo):
    task = await engine.submit(repo, "echo x > x.txt")
    await wait_done(engine, task.id)
    await engine.wait_idle(task.id)
    assert (await engine.get_task(task.id)).test_result is None
