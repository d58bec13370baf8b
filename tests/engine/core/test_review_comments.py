"""Comments back to the agent: comments on diff lines, request-changes as a follow-up in
the same working copy, and the interdiff of the next review; real shell agents on the
local runtime, real git."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import ReviewState, Task, TaskState
from tests.engine.enginekit import RECORDER, profiles_home, wait_done


@pytest.fixture
def home(tmp_path) -> Path:
    return profiles_home(tmp_path / "home", RECORDER)


@pytest.fixture
async def task(engine, repo) -> Task:
    """A recorder task that wrote its notes and waits for review."""
    task = await engine.submit(repo, "write notes", agent="recorder")
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    return done


async def test_request_changes_reaches_the_agent_and_the_next_diff_is_an_interdiff(engine, task):
    comment = await engine.comment(task.id, "notes.txt", 1, "Say which attempt this is.")
    assert (comment.quote, comment.where, comment.attempt) == ("attempt 1", "notes.txt:1", 1)
    assert [c.id for c in await engine.comments(task.id)] == [comment.id]

    queued = await engine.request_changes(task.id, "Keep it short.",
                                          exclude=["received.txt"])
    assert (queued.state, queued.attempt) == (TaskState.QUEUED, 2)
    prompt = queued.follow_up
    for part in ("Keep it short.", "notes.txt:1", "    > attempt 1",
                 "Say which attempt this is.", "Left out of the change", "- received.txt"):
        assert part in prompt
    done = await wait_done(engine, task.id)
    assert done.state == TaskState.SUCCEEDED, done.error
    assert done.review == ReviewState.PENDING
    # The follow-up ran as the same task's attempt 2, in the same working copy, and the
    # agent got the composed prompt: it wrote it into received.txt.
    received = await engine.working_copy_path(task.id, "received.txt")
    assert received.read_text() == prompt
    assert (await engine.working_copy_path(task.id, "notes.txt")).read_text() \
        == "attempt 1\nattempt 1\n"
    assert [a["prompt"] for a in await engine.attempts(task.id)] == ["write notes", prompt]

    whole = await engine.get_patch(task.id)
    since = await engine.get_interdiff(task.id)
    assert "+attempt 1\n+attempt 1\n" in whole and "new file mode" in whole
    assert "new file mode" not in since and "-write notes" in since
    assert " attempt 1\n+attempt 1\n" in since  # only the second line is new
    # The comment was sent in attempt 2; the new diff has none of its own yet.
    assert await engine.comments(task.id) == []
    assert [c.sent_in for c in await engine.comments(task.id, current=False)] == [2]


async def test_a_comment_outside_the_diff_is_refused_and_changes_nothing(engine, task):
    with pytest.raises(InvalidInput, match=r"line 2 of notes.txt is outside the diff "
                                           r".*lines shown there: 1\)"):
        await engine.comment(task.id, "notes.txt", 1, "two lines", end_line=2)
    with pytest.raises(InvalidInput, match="'README.md' is not in the diff"):
        await engine.comment(task.id, "README.md", 1, "unchanged file")
    with pytest.raises(InvalidInput, match="comment is empty"):
        await engine.comment(task.id, "notes.txt", 1, "  ")
    assert await engine.comments(task.id, current=False) == []
    with pytest.raises(InvalidInput, match="nothing to send"):
        await engine.request_changes(task.id)
    with pytest.raises(InvalidInput, match="nope.txt is not in this diff"):
        await engine.request_changes(task.id, "x", exclude=["nope.txt"])
    assert await engine.get_interdiff(task.id) is None  # no review was sent back
    after = await engine.get_task(task.id)
    assert (after.state, after.attempt, after.follow_up) == (TaskState.SUCCEEDED, 1, None)
