"""The merge queue (`land`) and approvals, on real git repos and tasks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput, RepoError
from agentdeck.engine.models import ReviewState
from tests.engine.enginekit import git, make_repo, repo_state, run_succeeded

TESTS = 'if [ -e BROKEN ]; then echo "test_suite: BROKEN makes it fail"; exit 3; fi; echo ok'


def _test_copies_left(home: Path) -> list[str]:
    """The test checkouts still registered in the private git dirs."""
    return [line for git_dir in (home / "git").glob("*.git")
            for line in subprocess.run(["git", "--git-dir", str(git_dir), "worktree", "list"],
                                       capture_output=True, text=True, check=True
                                       ).stdout.splitlines()[1:]]



async def _three(engine, repo):
    return [await run_succeeded(engine, repo, script)
            for script in ("echo a > a.txt", "echo b > BROKEN", "echo c > c.txt")]


async def test_the_queue_stops_at_the_task_that_breaks_the_tests(engine, repo, home):
    first, second, third = await _three(engine, repo)
    steps = []
    report = await engine.land([first.id, second.id, third.id], test=TESTS,
                               progress=steps.append)
    assert [task for task, _ in report.landed] == [first.id]
    assert report.failed == second.id and "exited with 3" in report.reason
    assert "BROKEN makes it fail" in report.output
    assert git(repo, "rev-parse", "HEAD") == report.landed[0][1]
    assert (repo / "a.txt").exists() and not (repo / "BROKEN").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert (await engine.get_task(first.id)).review == ReviewState.ACCEPTED
    for task in (second, third):
        assert (await engine.get_task(task.id)).review == ReviewState.PENDING
    # the first is accepted while the second's tests run
    assert sorted((s.task, s.stage) for s in steps) == sorted([
        (first.id, "testing"), (first.id, "landed"), (second.id, "testing"),
        (second.id, "failed")])
    assert (steps[0].task, steps[0].stage, steps[-1].stage) == (first.id, "testing", "failed")
    assert _test_copies_left(home) == []


async def test_all_land_in_order_with_the_repos_own_test_command(engine, tmp_path):
    repo = make_repo(tmp_path / "repo", {"agentdeck.toml": '[test]\ncommand = "test -e a.txt"\n'})
    first = await run_succeeded(engine, repo, "echo a > a.txt")
    second = await run_succeeded(engine, repo, "echo c > c.txt")
    report = await engine.land([first.id, second.id])
    assert report.failed is None and report.test_command == "test -e a.txt"
    assert git(repo, "log", "--format=%H", "-2").split() == [
        report.landed[1][1], report.landed[0][1]]
    # the second alone (no a.txt) would have failed: the tests ran on the candidate
    third = await run_succeeded(engine, repo, "rm a.txt")
    stopped = await engine.land([third.id])
    assert stopped.failed == third.id and (repo / "a.txt").exists()


async def test_a_dirty_checkout_is_refused_and_nothing_changes(engine, repo):
    first, second, _ = await _three(engine, repo)
    (repo / "README.md").write_text("the user's unfinished edit\n")
    before = repo_state(repo)
    with pytest.raises(RepoError, match="uncommitted changes"):
        await engine.land([first.id, second.id], test=TESTS)
    with pytest.raises(RepoError, match="uncommitted changes"):
        await engine.freshen([first.id])
    assert repo_state(repo) == before
    assert (await engine.get_task(first.id)).review == ReviewState.PENDING


async def test_another_branch_checked_out_is_refused(engine, repo):
    git(repo, "branch", "side")
    (repo / "README.md").write_text("second\n")
    git(repo, "commit", "-qam", "second on main")
    task = await run_succeeded(engine, repo, "echo a > a.txt")
    git(repo, "checkout", "-q", "side")
    before = repo_state(repo)
    with pytest.raises(RepoError, match="on branch side, which does not contain"):
        await engine.land([task.id])
    assert repo_state(repo) == before


async def test_bad_input_is_refused_before_anything_lands(engine, repo):
    first, _, _ = await _three(engine, repo)
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(InvalidInput, match="named twice"):
        await engine.land([first.id, first.id])
    with pytest.raises(InvalidInput, match="test command is empty"):
        await engine.land([first.id], test=" ")
    with pytest.raises(InvalidInput, match="name at least one task"):
        await engine.land([])
    assert git(repo, "rev-parse", "HEAD") == head


async def test_approved_tasks_are_listed_in_the_order_approved(engine, repo):
    first, second, third = await _three(engine, repo)
    await engine.approve(third.id)
    await engine.approve(first.id)
    await engine.approve(second.id)
    await engine.approve(second.id, approved=False)
    assert [t.id for t in await engine.approved()] == [third.id, first.id]
    await engine.accept(third.id)
    assert [t.id for t in await engine.approved()] == [first.id]
    with pytest.raises(InvalidInput, match="already accepted"):
        await engine.approve(third.id)


async def test_tasks_left_out_of_the_queue_are_rechecked_against_its_result(engine, tmp_path):
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\nb\nc\n"})
    landed = await run_succeeded(engine, repo, "sed -i 's/^b$/landed/' notes.txt")
    clash = await run_succeeded(engine, repo, "sed -i 's/^b$/clash/' notes.txt")
    report = await engine.land([landed.id], test="true")
    assert report.failed is None
    stored = await engine.get_task(clash.id)
    assert stored.review == ReviewState.CONFLICT and f"after {landed.id}" in stored.error


async def test_without_a_test_command_the_tasks_land_in_order_untested(engine, repo):
    first, second, third = await _three(engine, repo)
    report = await engine.land([third.id, first.id, second.id])
    assert report.failed is None and report.test_command == ""
    assert [task for task, _ in report.landed] == [third.id, first.id, second.id]
    assert git(repo, "log", "--format=%H", "-3").split() == [
        commit for _, commit in reversed(report.landed)]
