"""The overlap radar's marks, the same in the Tasks list and the review inbox: how many
other tasks touch the same files, and which tasks and files (for a tooltip)."""
from __future__ import annotations

from agentdeck.engine.models import Overlap

#: Paths named per other task before the rest is elided.
_PATHS_SHOWN = 8


def overlap_mark(overlaps: tuple[Overlap, ...]) -> str:
    """``⚠ N``: N other tasks touch the same files (empty when none)."""
    return f"⚠ {len(overlaps)}" if overlaps else ""


def overlap_lines(overlaps: tuple[Overlap, ...]) -> str:
    """Each other task and the files both change, as plain text (empty when none)."""
    if not overlaps:
        return ""
    lines = [f"{o.task}: {', '.join(o.paths[:_PATHS_SHOWN])}"
             f"{' …' if len(o.paths) > _PATHS_SHOWN else ''}" for o in overlaps]
    return "Touches the same files as:\n" + "\n".join(lines)
