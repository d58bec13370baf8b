"""What a "request changes" sends to the agent: the follow-up prompt made of the reviewer's
message, their comments (file, lines, the code quoted, the text) and what they left out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import unidiff

from agentdeck.engine.errors import InvalidInput
from agentdeck.engine.models import Comment
from agentdeck.engine.workspace import FileHunks
from agentdeck.engine.workspace.hunks import resolve


@dataclass(frozen=True)
class Excluded:
    """One part of the change the reviewer left out.

    Attributes:
        spec: ``PATH`` (a whole file) or ``PATH#N`` (one of its hunks).
        detail: What to quote of it for the agent: a hunk's header and lines ("" for a
            whole file: the agent still has that file in its working copy).
    """

    spec: str
    detail: str = ""


def excluded_changes(files: Sequence[FileHunks], exclude: Sequence[str]) -> list[Excluded]:
    """The parts of the change named by ``exclude`` (``PATH`` or ``PATH#N``), checked
    against ``files``: a whole file is named, a hunk is quoted (header and lines).

    Raises:
        InvalidInput: a selector that is not in the diff (nothing is sent then).
    """
    by_path = {p: f for f in files for p in (f.change.path, f.change.old_path) if p}
    parts = []
    for spec in dict.fromkeys(exclude):
        file, number = resolve(by_path, spec)
        if number is None or not file.hunks:
            parts.append(Excluded(file.change.path))
            continue
        hunk = file.hunks[number - 1]
        body = hunk.body.decode("utf-8", "replace").rstrip("\n")
        parts.append(Excluded(file.spec(number), f"{hunk.header}\n{body}"))
    return list(dict.fromkeys(parts))


def new_side_lines(file_patch: str) -> dict[int, str]:
    """The lines (number on the new side -> text) a file's diff shows: context and added."""
    lines: dict[int, str] = {}
    if "\n@@" not in file_patch:
        return lines  # binary, or only a rename / mode change
    for patched in unidiff.PatchSet(file_patch):
        for hunk in patched:
            for line in hunk:
                if line.target_line_no is not None and line.line_type in (" ", "+"):
                    lines[line.target_line_no] = line.value.rstrip("\r\n")
    return lines


def spans(numbers: Sequence[int]) -> str:
    """``1-5, 9, 20-31`` for sorted line numbers."""
    out: list[str] = []
    start = prev = None
    for n in list(numbers) + [None]:
        if start is not None and (n is None or n != prev + 1):
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(out)


def compose(message: str | None, comments: Sequence[Comment],
            excluded: Sequence[Excluded], *, script: bool = False) -> str:
    """The follow-up prompt: the message, then each comment with its quoted code, then
    what was left out.

    Args:
        script: For an agent whose prompt is a shell script (the shell profile): the
            message is the script, and everything else comes first as ``#`` comments.
    """
    parts = ["The reviewer asked for changes to your work on this task."]
    if message and message.strip() and not script:
        parts.append(message.strip())
    if comments:
        parts.append("Comments on your change (file:lines, the code commented on, then the "
                     "comment):\n\n" + "\n\n".join(map(_comment, comments)))
    if excluded:
        listed = "\n".join(f"- {e.spec}" + (f"\n{_quoted(e.detail)}" if e.detail else "")
                           for e in excluded)
        parts.append("Left out of the change by the reviewer (undo these or do them "
                     f"differently):\n{listed}")
    text = "\n\n".join(parts) + "\n"
    if not script:
        return text
    commented = "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())
    return commented + (message.strip() + "\n" if message and message.strip() else "")


def _comment(comment: Comment) -> str:
    return f"{comment.where}\n{_quoted(comment.quote)}\n{comment.text.strip()}"


def _quoted(text: str) -> str:
    return "\n".join(f"    > {line}" for line in text.split("\n"))
