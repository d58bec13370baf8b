"""The overlap radar and the re-check after an accept, on real git repos and tasks."""
from __future__ import annotations

from pathlib import Path

from agentdeck.engine.models import ReviewState, TaskState
from tests.engine.enginekit import git, run_succeeded, wait_done, wait_state, wait_until


async def test_two_tasks_editing_one_file_are_both_flagged(engine, notes_repo):
    one = await run_succeeded(engine, notes_repo, "sed -i 's/^line 2$/one/' notes.txt")
    two = await run_succeeded(engine, notes_repo, "sed -i 's/^line 18$/two/' notes.txt; echo x > b.txt")
    alone = await run_succeeded(engine, notes_repo, "echo y > other.txt")
    found = await engine.overlaps()
    assert [(o.task, o.paths) for o in found[one.id]] == [(two.id, ("notes.txt",))]
    assert [(o.task, o.paths) for o in found[two.id]] == [(one.id, ("notes.txt",))]
    assert alone.id not in found


async def test_a_running_task_is_flagged_from_its_working_copy(engine, notes_repo):
    waiting = await run_succeeded(engine, notes_repo, "echo changed > other.txt")
    running = await engine.submit(
        notes_repo, "echo mine > other.txt; touch edited; while [ ! -e go ]; do sleep 0.05; done")
    await wait_state(engine, running.id, {TaskState.RUNNING})
    workdir = Path((await engine.get_task(running.id)).workdir)
    await wait_until(lambda: (workdir / "edited").exists(), what="the agent's edit")
    found = await engine.overlaps()
    assert [(o.task, o.paths) for o in found[waiting.id]] == [(running.id, ("other.txt",))]
    (workdir / "go").touch()
    await wait_done(engine, running.id)


async def test_accepting_one_marks_a_colliding_task_conflicting(engine, notes_repo):
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/first/' notes.txt")
    second = await run_succeeded(engine, notes_repo, "sed -i 's/^line 5$/second/' notes.txt")
    await engine.accept(first.id)
    stored = await engine.get_task(second.id)
    assert stored.review == ReviewState.CONFLICT
    assert f"after {first.id}" in stored.error and "notes.txt" in stored.error
    assert git(notes_repo, "status", "--porcelain") == ""


async def test_accepting_one_leaves_a_task_with_separate_edits_pending(engine, notes_repo):
    first = await run_succeeded(engine, notes_repo, "sed -i 's/^line 2$/first/' notes.txt")
    second = await run_succeeded(engine, notes_repo, "sed -i 's/^line 18$/second/' notes.txt")
    assert first.id in {o.task for o in (await engine.overlaps())[second.id]}
    await engine.accept(first.id)
    stored = await engine.get_task(second.id)
    assert stored.review == ReviewState.PENDING and not stored.error
    await engine.accept(second.id)
    text = (notes_repo / "notes.txt").read_text()
    assert "first\n" in text and "second\n" in text
