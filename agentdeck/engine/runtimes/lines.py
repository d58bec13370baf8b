"""Splitting one output file's bytes into decoded lines while tracking file offsets.

The offset after each batch is what makes a cursor exact: a splitter restarted at that
offset sees the very next line, so a re-attached reader neither loses nor repeats lines.
Lines longer than MAX_LINE_BYTES are cut; of such a line at most MAX_LINE_BYTES are kept
in memory and the rest is only counted, so a huge line without newline stays cheap.
"""
from __future__ import annotations

from agentdeck.engine.runtimes.base import MAX_LINE_BYTES, cut_marker

#: Most lines handed to a sink in one call.
BATCH_LINES = 4096

#: A batch: decoded lines and the file offset just after the last of them.
Batch = tuple[list[str], int]


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    # NUL bytes break C-string consumers (Qt, terminals) and carry no meaning in a log.
    return text.replace("\0", "") if "\0" in text else text


def _keep(raw: bytes) -> bytes:
    """The first MAX_LINE_BYTES of ``raw``, not splitting a UTF-8 character."""
    end = MAX_LINE_BYTES
    while end > MAX_LINE_BYTES - 3 and (raw[end] & 0xC0) == 0x80:
        end -= 1
    return raw[:end]


def _cut(raw: bytes) -> str:
    kept = _keep(raw)
    return _decode(kept) + cut_marker(len(raw) - len(kept))


class LineSplitter:
    """Turns the successive bytes of one stream into batches of lines.

    Attributes:
        offset: file offset where the first line not yet returned starts.
    """

    __slots__ = ("offset", "_pending", "_dropped")

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self._pending = b""   # start of the unfinished line, at most MAX_LINE_BYTES
        self._dropped = 0     # bytes of the unfinished line skipped beyond _pending

    @property
    def end(self) -> int:
        """File offset of the next byte to feed."""
        return self.offset + len(self._pending) + self._dropped

    def feed(self, data: bytes) -> list[Batch]:
        """Consume ``data`` (the bytes right after those fed before); return complete lines."""
        out: list[Batch] = []
        if self._dropped:
            newline = data.find(b"\n")
            if newline < 0:
                self._dropped += len(data)
                return out
            self._dropped += newline
            out.append(self._take_pending(consumed_newline=True))
            data = data[newline + 1:]
        buf = self._pending + data if self._pending else data
        last = buf.rfind(b"\n")
        if last < 0:
            self._hold(buf)
            return out
        self._hold(buf[last + 1:])
        out.extend(self._split(buf[:last]))
        return out

    def flush(self) -> list[Batch]:
        """Return the unfinished last line (the stream has ended), if there is one."""
        if not self._pending and not self._dropped:
            return []
        return [self._take_pending(consumed_newline=False)]

    def _hold(self, rest: bytes) -> None:
        if len(rest) > MAX_LINE_BYTES:
            kept = _keep(rest)
            self._dropped = len(rest) - len(kept)
            rest = kept
        self._pending = rest

    def _take_pending(self, consumed_newline: bool) -> Batch:
        text = _decode(self._pending)
        if self._dropped:
            text += cut_marker(self._dropped)
        self.offset += len(self._pending) + self._dropped + consumed_newline
        self._pending, self._dropped = b"", 0
        return [text], self.offset

    def _split(self, complete: bytes) -> list[Batch]:
        parts = complete.split(b"\n")
        if max(map(len, parts)) > MAX_LINE_BYTES:
            texts = [_cut(p) if len(p) > MAX_LINE_BYTES else p.decode("utf-8", "replace") for p in parts]
        else:
            texts = [p.decode("utf-8", "replace") for p in parts]
        if b"\0" in complete:
            texts = [t.replace("\0", "") for t in texts]
        out: list[Batch] = []
        for start in range(0, len(parts), BATCH_LINES):
            end = start + BATCH_LINES
            chunk = parts[start:end]
            self.offset += sum(map(len, chunk)) + len(chunk)
            out.append((texts[start:end], self.offset))
        return out
