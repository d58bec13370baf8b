"""Server-sent events: turn a stream of text lines into (event name, data) pairs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator


@dataclass(frozen=True, slots=True)
class SSEvent:
    event: str  # "" when the server gave no ``event:`` field
    data: str


async def sse_events(lines: AsyncIterable[str]) -> AsyncIterator[SSEvent]:
    """Parse SSE framing (WHATWG rules): ``event:``/``data:`` fields, blank-line dispatch.

    Several ``data:`` lines of one event are joined with newlines; comments (``:``) and
    other fields are skipped; an event left unterminated at the end is still delivered.
    """
    event, data = "", []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEvent(event, "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield SSEvent(event, "\n".join(data))
