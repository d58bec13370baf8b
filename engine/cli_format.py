"""How the CLI prints tasks and log entries."""
from __future__ import annotations

import json
import time
from typing import Any, Iterable

from engine.models import EntryKind, LogEntry, Task

SHOW_FIELDS = ("id", "title", "state", "review", "agent", "runtime", "endpoint", "repo",
               "base_commit", "result_commit", "attempt", "exit_code", "error", "priority",
               "batch_id", "not_before", "created_at", "started_at", "finished_at",
               "files_changed", "lines_added", "lines_removed", "tokens_in", "tokens_out",
               "cost_usd", "session_id", "question", "prompt")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def elapsed(task: Task) -> str:
    if not task.started_at:
        return "-"
    seconds = int((task.finished_at or time.time()) - task.started_at)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def task_table(tasks: Iterable[Task]) -> str:
    rows = [("ID", "STATE", "REVIEW", "AGENT", "TIME", "+/-", "COST", "TITLE")]
    for t in tasks:
        state = t.state.value if not t.not_before or t.not_before <= time.time() \
            else f"queued@{time.strftime('%H:%M', time.localtime(t.not_before))}"
        cost = f"${t.cost_usd:.2f}" if t.cost_usd else "-"
        rows.append((t.id, state, t.review.value, t.agent, elapsed(t),
                     f"+{t.lines_added}/-{t.lines_removed}", cost, t.title[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]
                     for r in rows)


def task_details(task: Task, attempts: list[dict[str, Any]]) -> str:
    d = task.to_dict()
    lines = []
    for key in SHOW_FIELDS:
        value = d.get(key)
        if key.endswith("_at") or key == "not_before":
            value = when(value)
        if value in (None, "", 0, 0.0) and key not in ("exit_code", "attempt"):
            continue
        lines.append(f"{key + ':':15} {value}")
    for a in attempts:
        lines.append(f"attempt {a['attempt']}: {a['state']} exit={a['exit_code']} "
                     f"{a['error'] or ''}".rstrip())
    return "\n".join(lines)


_BADGES = {
    EntryKind.MESSAGE: "»", EntryKind.TOOL_CALL: "⚙", EntryKind.TOOL_RESULT: "←",
    EntryKind.COMMAND: "$", EntryKind.FILE_EDIT: "✎", EntryKind.ERROR: "✗",
    EntryKind.USAGE: "¤", EntryKind.QUESTION: "?", EntryKind.SYSTEM: "#",
}


def entry_line(entry: LogEntry) -> str:
    """One log entry as a terminal line: raw output verbatim, the rest with a badge."""
    if entry.kind == EntryKind.RAW:
        return entry.text
    return f"{_BADGES.get(entry.kind, '·')} {entry.text}"
