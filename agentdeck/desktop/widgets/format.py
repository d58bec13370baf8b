"""Turning task numbers into short text for tables, tiles and the details pane."""
from __future__ import annotations

import time

from agentdeck.engine.models import Task


def elapsed_seconds(task: Task, now: float | None = None) -> float | None:
    """Run time so far (or in total once finished); None before the task started."""
    if task.started_at is None:
        return None
    end = task.finished_at if task.finished_at is not None else (now or time.time())
    return max(0.0, end - task.started_at)


def duration(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03`` style; an em dash when unknown."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def tokens(count: int) -> str:
    """``950`` / ``12.3k`` / ``4.1M``; empty when zero."""
    if not count:
        return ""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def cost(usd: float) -> str:
    """``$0.042``-style with enough digits to be useful; empty when zero."""
    if not usd:
        return ""
    return f"${usd:.3f}" if usd < 1 else f"${usd:.2f}"


def lines_changed(task: Task) -> str:
    """``+12 −3`` or empty when there is no diff yet."""
    if not (task.lines_added or task.lines_removed or task.files_changed):
        return ""
    return f"+{task.lines_added} −{task.lines_removed}"


def clock(ts: float, now: float) -> str:
    """``01:00`` on the same day as ``now``, else ``Nov 26 01:00``: when a task will start."""
    local = time.localtime(ts)
    same_day = time.localtime(now)[:3] == local[:3]
    return time.strftime("%H:%M" if same_day else "%b %d %H:%M", local)


def timestamp(ts: float | None) -> str:
    """Local ``Nov 25 03:06:19`` (the year only when it is not this one); em dash if unset."""
    if ts is None:
        return "—"
    local = time.localtime(ts)
    pattern = "%b %d %H:%M:%S" if local.tm_year == time.localtime().tm_year else "%Y %b %d %H:%M"
    return time.strftime(pattern, local)


def short_repo(path: str) -> str:
    """The last path component of a repository path (the name people recognise)."""
    stripped = path.rstrip("/\\")
    return stripped.rsplit("/", 1)[-1] or path


def task_title(task: Task) -> str:
    """The title (the engine gives every task one at submit), else the task id."""
    return task.title or task.id
