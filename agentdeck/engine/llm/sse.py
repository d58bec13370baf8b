"""Server-sent events: turn a stream of text lines into (event name, data) pairs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator


@dataclass(frozen=True, slots=True)
class SSEvent:
    event: str  # "" when the server gave no ``event:`` field
    data: str


class StreamCut(Exception):
    """The stream ended inside an event: its lines came, the blank line ending it did not.

    ``partial`` holds the event's lines so far (possibly ending mid-line).
    """

    def __init__(self, partial: str) -> None:
        super().__init__(f"the stream ended inside an event: {partial[:80]!r}")
        self.partial = partial


async def sse_events(lines: AsyncIterable[str]) -> AsyncIterator[SSEvent]:
    """Parse SSE framing (WHATWG rules): ``event:``/``data:`` fields, blank-line dispatch.

    Several ``data:`` lines of one event are joined with newlines; comments (``:``) and
    other fields are skipped. An event the stream ends inside is not delivered (as the
    standard says) but raised as `StreamCut`: a connection that closes mid-event is
    broken, even when HTTP saw a clean end of body.
    """
    event, data, pending = "", [], []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEvent(event, "\n".join(data))
            event, data, pending = "", [], []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        else:
            continue
        pending.append(line)
    if pending:
        raise StreamCut("\n".join(pending))
