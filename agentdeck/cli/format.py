"""How the CLI prints tasks and log entries, and how agent text is made safe for a terminal.

Every byte an agent wrote is untrusted, and a terminal acts on some of them: ESC and the C1
controls start sequences that write the clipboard (OSC 52), move the cursor or erase lines
(hiding text from the reader); CR and BS overwrite a line; the bidi overrides reorder what
is shown (Trojan Source). `safe` shows each such character as an escape (``\\x1b``,
``\\r``, ``\\u202e``) and `Output` runs everything the CLI prints through it, whether stdout
is a terminal or a pipe: piped output usually ends on a terminal anyway (``| grep``,
``| less``, a file ``cat`` later). ``--raw`` prints the text unchanged.
"""
from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Iterable, Sequence, TextIO

from agentdeck.engine.api import FileHunks, escape_name
from agentdeck.engine.models import (TERMINAL_STATES, Comment, EntryKind, Freshening,
                                     LandReport, LandStep, LogEntry, Overlap, Report,
                                     StorageReport, Task, TaskSummary,
                                     format_size as size)

SHOW_FIELDS = ("id", "title", "state", "review", "agent", "runtime", "endpoint", "repo",
               "base_commit", "result_commit", "attempt", "exit_code", "error", "priority",
               "batch_id", "group_id", "not_before", "created_at", "started_at", "finished_at",
               "files_changed", "lines_added", "lines_removed", "tokens_in", "tokens_out",
               "cost_usd", "test_result", "test_summary", "session_id", "question", "paths",
               "prompt")


#: What a terminal may act on: C0 controls but TAB and LF, DEL, C1 (U+0080-U+009F, U+009B
#: is a one-character CSI), the bidi embeddings/overrides/isolates, and lone surrogates
#: (the undecodable bytes of a file name, which could not even be written to stdout).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE = re.compile(f"[\t\n{_UNSAFE}]")
#: What json.dumps(ensure_ascii=False) leaves raw that `_UNSAFE` names (it escapes C0).
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with every character a terminal could act on shown as an escape
    (line breaks and tabs kept)."""
    return _UNSAFE_TEXT.sub(_escape, text)


def safe_line(text: str) -> str:
    """`safe`, and line breaks and tabs escaped too: for a table cell or a one-line
    message, which an agent must not be able to split into forged lines."""
    return _UNSAFE_LINE.sub(_escape, text)


def dumps(value: Any) -> str:
    """JSON for the CLI: UTF-8 text, with the characters `safe` escapes given as ``\\u``
    escapes, so that the output is valid JSON and safe on a terminal."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Output:
    """Where every line the CLI prints goes: agent text made `safe` unless ``raw``.

    Attributes:
        escaped: How many characters were shown escaped so far.
    """

    def __init__(self, raw: bool = False, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.raw = raw
        self.escaped = 0
        self._stdout = stdout
        self._stderr = stderr

    def out(self, text: str, end: str = "\n") -> None:
        """Print ``text`` on stdout (escaped unless raw; raw writes the exact bytes,
        undecodable ones included)."""
        stdout = self._stdout or sys.stdout  # looked up late: tests swap sys.stdout
        if self.raw:
            stdout.flush()
            stdout.buffer.write((text + end).encode("utf-8", "surrogateescape"))
            stdout.buffer.flush()
            return
        stdout.write(self._safe(text) + end)
        stdout.flush()

    def err(self, text: str) -> None:
        """Print one message line on stderr, always escaped (messages are never raw)."""
        print(self._safe(text), file=self._stderr or sys.stderr, flush=True)

    def note_escaped(self) -> None:
        """Say on stderr, once at the end, that some characters were shown escaped."""
        if self.escaped:
            self.err(f"agentdeck: note: {self.escaped} control character(s) in this output are "
                     "shown escaped (like \\x1b); --raw prints them as they are")

    def _safe(self, text: str) -> str:
        escaped = _UNSAFE_TEXT.subn(_escape, text)
        self.escaped += escaped[1]
        return escaped[0]


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def elapsed(task: Task) -> str:
    if not task.started_at:
        return "-"
    return duration((task.finished_at or time.time()) - task.started_at)


def duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``; ``-`` for none."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _cost(usd: float) -> str:
    return f"${usd:.2f}" if usd else "-"


def task_table(tasks: Iterable[Task]) -> str:
    rows = [("ID", "STATE", "REVIEW", "AGENT", "TIME", "+/-", "COST", "TITLE")]
    for t in tasks:
        state = t.state.value if not t.not_before or t.not_before <= time.time() \
            else f"queued@{time.strftime('%H:%M', time.localtime(t.not_before))}"
        rows.append((t.id, state, t.review.value, t.agent, elapsed(t),
                     f"+{t.lines_added}/-{t.lines_removed}", _cost(t.cost_usd),
                     safe_line(t.title[:60])))
    return _columns(rows)


def _columns(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned columns; the last (free text) is not padded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]
                     for r in rows)


def summary_table(rows: Sequence[TaskSummary]) -> str:
    """Tasks side by side (`agentdeck compare`, `agentdeck report`), each failed one
    followed by why, indented."""
    table = [("ID", "AGENT", "STATE", "REVIEW", "+/-", "FILES", "TIME", "COST", "TESTS",
              "TITLE")]
    table += [(r.id, safe_line(r.agent), r.state.value, r.review.value,
               f"+{r.added}/-{r.removed}", str(r.files), duration(r.duration),
               _cost(r.cost_usd), r.test_result or "-", safe_line(r.title[:60])) for r in rows]
    lines = _columns(table).split("\n")
    out = lines[:1]
    for line, row in zip(lines[1:], rows):
        out.append(line)
        out += [f"    {safe_line(why)}" for why in (row.failure or "").splitlines()]
        if row.test_result in ("failed", "error") and row.test_summary:
            out.append(f"    tests: {safe_line(row.test_summary)}")
    return "\n".join(out)


def report_text(report: Report) -> str:
    """A batch report: a heading with the totals, then `summary_table`."""
    ended = report.count(*TERMINAL_STATES)
    failed = report.failures
    head = (f"{safe_line(report.title)}: {len(report.tasks)} task(s), {ended} ended, "
            f"{failed} failed, cost ${report.cost_usd:.2f}")
    return head + ("\n" + summary_table(report.tasks) if report.tasks else "\n(no tasks)")


def task_details(task: Task, attempts: list[dict[str, Any]],
                 overlaps: Sequence[Overlap] = ()) -> str:
    d = task.to_dict()
    lines = []
    for key in SHOW_FIELDS:
        value = d.get(key)
        if key.endswith("_at") or key == "not_before":
            value = when(value)
        if value in (None, "", 0, 0.0) and key not in ("exit_code", "attempt"):
            continue
        # Later lines indented: an agent's text (a quoted stderr line) cannot pose as a field.
        lines.append(f"{key + ':':15} " + str(value).replace("\n", "\n" + " " * 16))
    for a in attempts:
        lines.append(f"attempt {a['attempt']}: {a['state']} exit={a['exit_code']} "
                     f"{(a['error'] or '').partition(chr(10))[0]}".rstrip())
    for o in overlaps:
        lines.append(f"overlaps with {o.task} in {', '.join(map(escape_name, o.paths))}")
    return "\n".join(lines)


def freshening_line(item: Freshening) -> str:
    """What `freshen` did to one task, as one line."""
    said = {"freshened": "freshened onto the branch head", "current": "already on the head",
            "conflict": "conflicts (marked; --hand-back gives it to its agent)",
            "handed_back": "conflict handed back to its agent as a follow-up"}[item.outcome]
    files = f": {', '.join(map(escape_name, item.conflicts))}" if item.conflicts else ""
    return f"{item.task}: {said}{files}"


def land_step(step: LandStep) -> str:
    """A progress line of `land` (on stderr)."""
    return f"[{step.index + 1}/{step.total}] {step.task} {step.stage}"


def land_report(report: LandReport) -> str:
    """The outcome of `land`: what landed, and where and why it stopped."""
    lines = [f"landed {task} as {commit[:12]}" for task, commit in report.landed]
    if not report.test_command:
        lines.append("(no test command: --test, a profile's test_command or "
                     "agentdeck.toml [test] command)")
    if report.failed:
        lines.append(f"stopped at {report.failed}: {report.reason}")
        if report.output:
            lines.append("--- test output ---\n" + report.output.rstrip("\n"))
    return "\n".join(lines)


_BADGES = {
    EntryKind.MESSAGE: "»", EntryKind.TOOL_CALL: "⚙", EntryKind.TOOL_RESULT: "←",
    EntryKind.COMMAND: "$", EntryKind.FILE_EDIT: "✎", EntryKind.ERROR: "✗",
    EntryKind.USAGE: "¤", EntryKind.QUESTION: "?", EntryKind.SYSTEM: "#",
    EntryKind.GAP: "⚠",
}


def entry_line(entry: LogEntry) -> str:
    """One log entry as a terminal line: raw output verbatim, the rest with a badge."""
    if entry.kind == EntryKind.RAW:
        return entry.text
    return f"{_BADGES.get(entry.kind, '·')} {entry.text}"


def comment_text(comment: Comment) -> str:
    """A comment as the CLI lists it: where, the quoted code, the text, whether it was sent."""
    sent = f" (sent in attempt {comment.sent_in})" if comment.sent_in else ""
    quote = "".join(f"\n    > {line}" for line in comment.quote.split("\n"))
    return f"#{comment.id} {comment.where}{sent}{quote}\n  {comment.text}"


def storage_table(report: StorageReport) -> str:
    """`agentdeck du`: one line per task, then per repo, then base layers and total."""
    lines = [f"{'TASK':<14} {'SIZE':>10}  {'STATE':<10} {'REVIEW':<9} GC"]
    for e in report.tasks:
        lines.append(f"{e.task_id:<14} {size(e.bytes):>10}  {e.state or '-':<10} "
                     f"{e.review or '-':<9} {e.removable or 'kept'}")
    lines.append("")
    for repo, count in sorted(report.repos.items()):
        lines.append(f"repo {repo}: {size(count)}")
    for tag, count in sorted(report.base_layers.items()):
        unused = " (unused: gc removes it)" if tag in report.unused_layers else ""
        lines.append(f"base layer {tag}: {size(count)}{unused}")
    lines.append(f"total: {size(report.total)} (allocated blocks, each file once; "
                 f"retention {report.retention_days:g} days)")
    return "\n".join(lines)


def units(files: Iterable[FileHunks]) -> Iterable[tuple[str, str, int, int]]:
    """(``PATH#N``, what it is, lines added, lines removed) of every unit of a change."""
    for file in files:
        change = file.change
        for hunk in file.hunks:
            yield file.spec(hunk.number), hunk.header, hunk.added, hunk.removed
        if not file.hunks:
            what = ("binary file " if change.binary else "") + change.status.replace("_", " ")
            if change.old_path:
                what += f" from {change.old_path}"
            yield file.spec(1), f"({what}, whole file)", change.added, change.removed


def hunk_line(unit: tuple[str, str, int, int]) -> str:
    """``PATH#N  @@ -a,b +c,d @@ section  (+added −removed)``."""
    spec, what, added, removed = unit
    return f"{spec}  {what}  (+{added} −{removed})"
