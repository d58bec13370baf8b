"""Comments back to the agent: comments on lines of a task's diff, "request changes"
(all of them, with what was left out, as one follow-up in the same working copy) and the
interdiff of the next review against the result that was sent back."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Protocol, Sequence

from agentdeck.engine import validate
from agentdeck.engine.core.queries import Queries
from agentdeck.engine.core.review_prompt import compose, excluded_changes, new_side_lines, spans
from agentdeck.engine.core.reviews import check_reviewable
from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import AgentProfile, Comment, Task
from agentdeck.engine.store import comments as cs
from agentdeck.engine.store.db import Store
from agentdeck.engine.workspace import FileChange, Workspace
from agentdeck.engine.workspace.hunks import needs_hunks, whole_files


class FollowUp(Protocol):
    """`Controls.follow_up`: queue a follow-up, ``also`` written in its transaction."""

    def __call__(self, task_id: str, message: str, *, also: Any = None) -> Awaitable[Task]: ...


class Comments:
    """Review comments and change requests of tasks.

    Args:
        store: the comments and change requests.
        workspace: the diffs (lines that may be commented) and the reviewed commits.
        queries: finds a task by id or prefix.
        follow_up: queues the follow-up a change request sends.
        profile: a profile by name (a shell agent's prompt is a script: see `compose`).
    """

    def __init__(self, store: Store, workspace: Workspace, queries: Queries,
                 follow_up: FollowUp, profile: Callable[[str], AgentProfile]) -> None:
        self._profile = profile
        self._store = store
        self._workspace = workspace
        self._queries = queries
        self._follow_up = follow_up

    async def add(self, task_id: str, path: str, line: int, text: str,
                  end_line: int | None = None) -> Comment:
        """Comment on lines ``line``..``end_line`` (new side) of ``path`` in the task's diff;
        the code there is quoted with it.

        Raises:
            InvalidInput: the task's change does not wait for review, the text is empty, or
                the path or a line is not in the diff (nothing is stored then).
        """
        task = await self._queries.get_task(task_id)
        check_reviewable(task)
        validate.prompt(text, "the comment")
        end = line if end_line is None else end_line
        if line < 1 or end < line:
            raise InvalidInput(f"{path}:{line}-{end} is not a range of lines (from 1, "
                               "the end not before the start)")
        shown = await asyncio.to_thread(self._shown_lines, task, path)
        outside = [n for n in range(line, end + 1) if n not in shown]
        if outside:
            where = f"lines shown there: {spans(sorted(shown))}" if shown \
                else "it has no text lines in the diff"
            raise InvalidInput(f"line {outside[0]} of {path} is outside the diff of task "
                               f"{task.id} ({where})")
        quote = "\n".join(shown[n] for n in range(line, end + 1))
        return await self._store.awrite(
            cs.insert_comment(task.id, task.attempt, path, line, end, quote, text))

    def _shown_lines(self, task: Task, path: str) -> dict[int, str]:
        """The new-side lines of ``path`` the task's diff shows (blocking)."""
        assert task.base_commit and task.result_commit  # a reviewable task has both
        diff = self._workspace.diff_result(task.repo, task.base_commit, task.result_commit)
        change = _find(diff.files, path, task.id)
        paths = [p for p in (change.old_path, change.path) if p]
        return new_side_lines(self._workspace.patch(task.repo, task.base_commit,
                                                    task.result_commit, paths))

    async def for_task(self, task_id: str, *, current: bool = True) -> list[Comment]:
        """The task's comments: those on the diff under review now (``current``) or all."""
        task = await self._queries.get_task(task_id)
        read = cs.comments(task.id, task.attempt if current else None)
        return await asyncio.to_thread(self._store.read, read)

    async def request_changes(self, task_id: str, message: str | None = None,
                              exclude: Sequence[str] = ()) -> Task:
        """Send the comments not sent yet, ``message`` and what ``exclude`` leaves out to
        the task as a follow-up: a new attempt in the same working copy. The result under
        review is kept as the older side of the next review's interdiff.

        Raises:
            InvalidInput: the change does not wait for review, nothing would be sent, or
                ``exclude`` names a file or hunk (``PATH#N``) not in the diff (nothing is
                sent then).
        """
        task = await self._queries.get_task(task_id)
        check_reviewable(task)
        assert task.base_commit and task.result_commit
        diff = await asyncio.to_thread(self._workspace.diff_result, task.repo,
                                       task.base_commit, task.result_commit)
        files = (await asyncio.to_thread(self._workspace.file_hunks, task.repo,
                                         task.base_commit, task.result_commit)
                 if needs_hunks(diff, exclude) else whole_files(diff))
        excluded = excluded_changes(files, exclude)
        pending = [c for c in await self.for_task(task.id) if c.sent_in is None]
        if not (pending or excluded or (message and message.strip())):
            raise InvalidInput(f"nothing to send to task {task.id}: comment on its diff "
                               "first, or give a message")
        script = self._profile(task.agent).kind == "shell"
        prompt = compose(message, pending, excluded, script=script)
        validate.prompt(prompt, "the change request (message and comments)")
        await asyncio.to_thread(self._workspace.keep_reviewed, task.id, task.repo,
                                task.base_commit, task.result_commit)
        record = cs.record_request(task.id, task.result_commit, message,
                                   [e.spec for e in excluded], [c.id for c in pending])
        return await self._follow_up(task.id, prompt, also=record)

    async def interdiff(self, task_id: str, paths: Sequence[str] | None = None) -> str | None:
        """What changed since the last review that requested changes (``git diff`` of the
        result sent back and the task's result now); ``None`` when there was none."""
        task = await self._queries.get_task(task_id)
        request = await asyncio.to_thread(self._store.read, cs.last_request(task.id))
        if request is None or not task.base_commit or not task.result_commit:
            return None
        return await asyncio.to_thread(
            self._workspace.patch, task.repo, task.base_commit, task.result_commit,
            list(paths) if paths else None, since=request.reviewed_commit)


def _find(files: Sequence[FileChange], path: str, task_id: str) -> FileChange:
    for change in files:
        if change.path == path:
            return change
    raise InvalidInput(f"{path!r} is not in the diff of task {task_id}; its files: "
                       f"{', '.join(f.path for f in files[:20]) or '(none)'}")
