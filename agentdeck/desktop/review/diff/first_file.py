"""The first file of a patch, parsed and highlighted ahead of time (off the GUI thread), so
that the review panel shows a change read ahead in colour at once (``n`` in the inbox)."""
from __future__ import annotations

from dataclasses import dataclass

from agentdeck.desktop.review.diff.highlight import FileHighlight, highlight_file
from agentdeck.desktop.review.diff.patch import split_patch
from agentdeck.desktop.review.diff.rows import ParsedFile, parse_file

#: Beyond this many characters (both sides) the first file is left to the panel's own
#: two-pass highlighting: a whole big file would hold the worker for long.
MAX_PREPARED_CHARS = 200_000


@dataclass(frozen=True)
class FirstFile:
    """File 0 of a patch: its path (to check it belongs), rows and complete colours."""

    path: str
    parsed: ParsedFile
    highlight: FileHighlight | None


def prepare_first(patch: str) -> FirstFile | None:
    """Parse and highlight the first file of ``patch`` (blocking: run it in a thread)."""
    files = split_patch(patch)
    if not files:
        return None
    parsed = parse_file(files[0])
    size = sum(map(len, parsed.old_lines.values())) + sum(map(len, parsed.new_lines.values()))
    highlight = (highlight_file(None, files[0].path, parsed) if size <= MAX_PREPARED_CHARS
                 else None)
    return FirstFile(files[0].path, parsed, highlight)
