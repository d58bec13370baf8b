"""Attacks on the overlap radar, freshen and the merge queue: a running agent's copy is
walked while it is hostile, a freshened copy is rebuilt from an agent's tree, and a
landing candidate is checked out — none may run the user's filter drivers or follow the
agent's links out of its copy. Each leaves a marker when it works."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.models import TaskState
from tests.engine.enginekit import git, make_repo, open_engine, run_succeeded, wait_done, wait_state, wait_until


@pytest.fixture
def user_filter(user_config: Path, tmp_path: Path) -> Path:
    """A filter driver ``crypt`` in the user's config that leaves a marker when it runs."""
    marker = tmp_path / "filter-ran"
    with user_config.open("a") as config:
        config.write(f"[filter \"crypt\"]\n\tsmudge = \"touch '{marker}'; cat\"\n"
                     f"\tclean = \"touch '{marker}'; cat\"\n")
    return marker



async def test_freshen_and_land_never_run_the_users_filter_on_the_agents_files(
        tmp_path, user_filter):
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\nb\nc\n"})
    engine = await open_engine(tmp_path / "home")
    try:
        first = await run_succeeded(engine, repo, "echo one > one.txt")
        evil = await run_succeeded(engine, repo, "printf '*.txt filter=crypt\\n' > .gitattributes;"
                                             " echo two > two.txt")
        await engine.accept(first.id)
        [done] = await engine.freshen([evil.id])
        assert done.outcome == "freshened"
        assert (Path((await engine.get_task(evil.id)).workdir) / "two.txt").exists()
        report = await engine.land([evil.id], test="true")  # its candidate checked out
        assert report.failed == evil.id and "filter" in report.reason  # accept's own guard
    finally:
        await engine.close()
    assert not user_filter.exists()


async def test_the_live_walk_of_a_running_copy_follows_no_link_and_opens_no_fifo(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x\n")
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\n", "dir/keep.txt": "k\n"})
    engine = await open_engine(tmp_path / "home")
    try:
        waiting = await run_succeeded(engine, repo, "echo changed > notes.txt")
        running = await engine.submit(
            repo, "rm -r dir; ln -s /proc/self/cwd dir; mkfifo notes.txt.fifo; rm notes.txt;"
                  " mkfifo notes.txt; touch ready; while [ ! -e go ]; do sleep 0.05; done")
        await wait_state(engine, running.id, {TaskState.RUNNING})
        workdir = Path((await engine.get_task(running.id)).workdir)
        await wait_until(lambda: (workdir / "ready").exists(), what="the agent's links")
        found = await engine.overlaps()  # returns: the FIFO was never opened
        assert [(o.task, o.paths) for o in found[waiting.id]] == [(running.id, ("notes.txt",))]
        assert not any("secret" in p for o in found[running.id] for p in o.paths)
        (workdir / "go").touch()
        await wait_done(engine, running.id)
    finally:
        await engine.close()
    assert git(repo, "status", "--porcelain") == ""


async def test_the_merge_queues_tests_run_the_agents_code_confined(tmp_path, monkeypatch):
    """The agent's change ships the script the user's test command runs: it may not write
    outside its checkout, read the user's home or see the engine's environment."""
    secret = "sk-landing-secret"
    monkeypatch.setenv("AGENTDECK_SEC_SECRET", secret)
    marker, leak = tmp_path / "outside" / "test-ran-free", tmp_path / "outside" / "leak"
    marker.parent.mkdir()
    repo = make_repo(tmp_path / "repo", {"notes.txt": "a\n"})
    engine = await open_engine(tmp_path / "home")
    try:
        evil = await run_succeeded(engine, repo, (
            "printf '#!/bin/sh\\n"
            f"touch {marker}\\n"
            f"env > {leak}; ls -a ~ >> {leak}\\n"
            "env | grep -q sk-landing && exit 9\\n"
            "exit 0\\n' > check.sh"))
        report = await engine.land([evil.id], test="sh check.sh")
        assert report.failed is None, report.output  # it ran, saw no secret, passed
        assert not marker.exists() and not leak.exists()
    finally:
        await engine.close()
