"""Freshen: a waiting task's change moved onto the branch's new head, on real repos."""
from __future__ import annotations

from pathlib import Path

from agentdeck.engine.models import ReviewState, TaskState
from tests.engine.enginekit import git, run_succeeded, wait_done


async def test_a_clean_task_is_rebased_onto_the_new_head(engine, notes_repo):
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 2$/first/' notes.txt")
    second = await run_succeeded(engine, notes_repo, "sed -i 's/^line 18$/second/' notes.txt")
    await engine.accept(first.id)
    head = git(notes_repo, "rev-parse", "HEAD")
    [done] = await engine.freshen([second.id])
    assert done.outcome == "freshened"
    fresh = await engine.get_task(second.id)
    assert fresh.base_commit == head and fresh.review == ReviewState.PENDING
    patch = await engine.get_patch(second.id)
    assert "+second" in patch and "-line 2\n" not in patch and "+first" not in patch
    copy = Path(fresh.workdir) / "notes.txt"
    assert "first\n" in copy.read_text() and "second\n" in copy.read_text()
    assert [f.outcome for f in await engine.freshen([second.id])] == ["current"]
    await engine.accept(second.id)
    assert git(notes_repo, "rev-parse", "HEAD^") == head


async def test_a_conflicting_task_is_marked_and_left_as_it_was(engine, notes_repo):
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/first/' notes.txt")
    second = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/second/' notes.txt")
    await engine.accept(first.id)
    [done] = await engine.freshen([second.id])
    assert done.outcome == "conflict" and done.conflicts == ("notes.txt",)
    stored = await engine.get_task(second.id)
    assert stored.base_commit == second.base_commit
    assert stored.result_commit == second.result_commit
    assert stored.review == ReviewState.CONFLICT


async def test_hand_back_gives_the_conflict_to_the_agent(engine, notes_repo):
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/first/' notes.txt")
    second = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/second/' notes.txt")
    await engine.accept(first.id)
    head = git(notes_repo, "rev-parse", "HEAD")
    [done] = await engine.freshen([second.id], hand_back=True)
    assert done.outcome == "handed_back"
    task = await engine.get_task(second.id)
    assert task.base_commit == head and task.attempt == 2
    assert "notes.txt" in task.follow_up and "<<<<<<<" in task.follow_up
    assert "first" in task.follow_up and "second" in task.follow_up
    # the shell agent's prompt is a script: the conflict comes as comments
    assert all(line.startswith("#") for line in task.follow_up.splitlines())
    done = await wait_done(engine, second.id)
    assert done.state == TaskState.SUCCEEDED and done.review == ReviewState.PENDING
    text = (Path(task.workdir) / "notes.txt").read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text
    assert "+<<<<<<<" in await engine.get_patch(second.id)  # the review shows them


async def test_the_setting_freshens_clean_tasks_after_an_accept(engine, notes_repo):
    await engine.update_settings(freshen_after_accept=True)
    assert (await engine.get_settings())["freshen_after_accept"] is True
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 2$/first/' notes.txt")
    clean = await run_succeeded(engine, notes_repo, "sed -i 's/^line 18$/clean/' notes.txt")
    clash = await run_succeeded(engine, notes_repo, "sed -i 's/^line 2$/clash/' notes.txt")
    await engine.accept(first.id)
    head = git(notes_repo, "rev-parse", "HEAD")
    assert (await engine.get_task(clean.id)).base_commit == head
    stored = await engine.get_task(clash.id)
    assert stored.review == ReviewState.CONFLICT and stored.base_commit == clash.base_commit
