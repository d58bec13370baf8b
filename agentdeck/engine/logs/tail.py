"""The last lines an agent printed in an attempt: why it failed, when it did not say so."""
from __future__ import annotations

from agentdeck.engine.models import Stream
from agentdeck.engine.store.db import Store

#: How many of the agent's last lines a failure quotes, and how much of each.
TAIL_LINES = 5
TAIL_WIDTH = 300
#: How far back (entries of the task's log) the tail is looked for.
_LOOK_BACK = 500


def output_tail(store: Store, task_id: str, attempt: int) -> tuple[Stream, list[str]] | None:
    """The attempt's last lines on stderr or, when it wrote none there, on stdout
    (already masked, as stored); ``None`` when it printed nothing. Blocking: the caller
    commits the pending log rows first."""
    entries = [e for e in store.get_logs(task_id, newest=True, limit=_LOOK_BACK)
               if e.attempt == attempt and e.text.strip()]
    for stream in (Stream.STDERR, Stream.STDOUT):
        lines = [_cut(e.text) for e in entries if e.stream == stream][-TAIL_LINES:]
        if lines:
            return stream, lines
    return None


def _cut(text: str) -> str:
    text = text.rstrip()
    return text if len(text) <= TAIL_WIDTH else text[:TAIL_WIDTH - 1] + "…"


def explain(error: str, tail: tuple[Stream, list[str]] | None) -> str:
    """``error`` followed by the quoted tail, one line each."""
    if tail is None:
        return f"{error} (it printed nothing)"
    stream, lines = tail
    return f"{error}; its last lines on {stream.value}:\n" + "\n".join(f"  {l}" for l in lines)
