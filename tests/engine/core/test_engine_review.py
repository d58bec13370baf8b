"""Accept and reject through the engine, on real git repos."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentdeck.engine.errors import ConflictError, InvalidInput, RepoError, UnsafeChange
from agentdeck.engine.models import ReviewState, TaskState
from tests.engine.enginekit import git, repo_state, run_succeeded


async def test_accept_commits_one_commit_naming_the_task(engine, repo):
    task = await run_succeeded(engine, repo, "echo 'x = 2' > src/app.py; echo new > NEW.md")
    sha = (await engine.accept(task.id)).commit
    assert git(repo, "rev-parse", "HEAD") == sha
    assert (repo / "src/app.py").read_text() == "x = 2\n"
    assert git(repo, "status", "--porcelain") == ""
    message = git(repo, "log", "-1", "--format=%B")
    assert task.id in message and "agent 'shell'" in message
    assert (await engine.get_task(task.id)).review == ReviewState.ACCEPTED
    with pytest.raises(InvalidInput, match="already accepted"):
        await engine.accept(task.id)
    with pytest.raises(InvalidInput, match="was accepted: that decision is final"):
        await engine.retry(task.id)
    assert (await engine.get_task(task.id)).review == ReviewState.ACCEPTED


async def test_accept_on_a_moved_branch_merges_cleanly(engine, repo):
    task = await run_succeeded(engine, repo, "echo agent > agent.txt")
    (repo / "README.md").write_text("changed by the user meanwhile\n")
    git(repo, "commit", "-qam", "user work")
    user_head = git(repo, "rev-parse", "HEAD")
    sha = (await engine.accept(task.id)).commit
    assert git(repo, "rev-parse", f"{sha}^") == user_head
    assert (repo / "agent.txt").read_text() == "agent\n"
    assert (repo / "README.md").read_text() == "changed by the user meanwhile\n"


async def test_a_conflicting_accept_leaves_the_repo_untouched(engine, repo):
    task = await run_succeeded(engine, repo, "echo 'x = agent' > src/app.py")
    (repo / "src/app.py").write_text("x = user\n")
    git(repo, "commit", "-qam", "user edits the same line")
    (repo / "scratch.txt").write_text("uncommitted user file\n")
    before = repo_state(repo)
    with pytest.raises(ConflictError) as caught:
        await engine.accept(task.id)
    assert caught.value.files == ["src/app.py"]
    assert repo_state(repo) == before
    stored = await engine.get_task(task.id)
    assert stored.review == ReviewState.CONFLICT and "src/app.py" in stored.error


async def test_partial_accept_and_branch_mode(engine, repo):
    task = await run_succeeded(engine, repo, "echo a > a.txt; echo b > b.txt")
    await engine.accept(task.id, exclude=["b.txt"])
    assert (repo / "a.txt").exists() and not (repo / "b.txt").exists()
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "a.txt"

    other = await run_succeeded(engine, repo, "echo c > c.txt")
    before = repo_state(repo)
    branch = (await engine.accept(other.id, branch=True)).branch
    assert branch == f"agentdeck/{other.id}"
    assert repo_state(repo) == before
    assert git(repo, "show", f"{branch}:c.txt") == "c"


async def test_reject_keeps_the_working_copy_until_the_retention_passes(engine, repo):
    task = await run_succeeded(engine, repo, "echo junk > junk.txt")
    before = repo_state(repo)
    await engine.reject(task.id)
    stored = await engine.get_task(task.id)
    assert stored.review == ReviewState.REJECTED
    assert (Path(stored.workdir) / "junk.txt").exists()  # for a reopen
    await engine.update_settings(storage_retention_days=0)
    await engine.collect_garbage()
    assert not Path(stored.workdir).exists()
    assert repo_state(repo) == before


MALICIOUS = """
mkdir -p .git/hooks
printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/post-commit
cp .git/hooks/post-commit .git/hooks/pre-commit
chmod +x .git/hooks/*
git config core.hooksPath .git/hooks
git config core.fsmonitor 'touch {marker}'
printf '* filter=evil\\n' > .gitattributes
git config filter.evil.clean 'touch {marker}'
ln -s /etc/passwd passwd-link
echo ok > fine.txt
"""


async def test_a_malicious_agent_runs_nothing_on_accept_and_escapes_nothing(
        engine, repo, tmp_path):
    marker = tmp_path / "PWNED"
    task = await run_succeeded(engine, repo, MALICIOUS.format(marker=marker))
    diff = await engine.get_diff(task.id)
    assert "passwd-link" in diff.unsafe
    with pytest.raises(UnsafeChange, match="passwd-link"):
        await engine.accept(task.id)
    await engine.accept(task.id, exclude=["passwd-link"])
    assert (repo / "fine.txt").read_text() == "ok\n"
    assert not (repo / "passwd-link").exists()
    assert not marker.exists(), "a hook, fsmonitor or filter of the agent ran on the host"
    assert not (repo / ".git/hooks/post-commit").exists()


async def test_a_base_commit_gone_from_the_repo_is_explained(engine, repo):
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "second")
    task = await run_succeeded(engine, repo, "echo changed >> README.md")
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # the base commit is rewritten away
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    for action in (engine.get_patch, engine.accept):
        with pytest.raises(RepoError, match="no longer in .*retry the task"):
            await action(task.id)
    assert (await engine.get_task(task.id)).review == ReviewState.PENDING  # nothing lost


async def test_rejecting_a_queued_task_cancels_it_so_it_never_runs(engine, repo):
    task = await engine.submit(repo, "echo ran > ran.txt", not_before=time.time() + 3600)
    rejected = await engine.reject(task.id)
    assert (rejected.state, rejected.review) == (TaskState.CANCELLED, ReviewState.REJECTED)
    assert (await engine.list_tasks(state="queued")) == []
