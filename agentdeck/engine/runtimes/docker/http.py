"""Reading a container's log over the Docker API fast: our own chunked and frame decoding."""
from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

from docker.types import CancellableStream

from agentdeck.engine.models import Stream

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxL")
_STDERR = 2  # the stream byte of a multiplexed log message's header


class LogRequest:
    """One ``GET /containers/{id}/logs`` response, read in large pieces.

    The SDK's reader does two small reads per log message, and http.client hands out
    a chunked body one HTTP chunk — one log message — per read: ~60k lines/s here. We
    take whatever bytes arrived from the socket buffer and undo the chunked and the
    stream framing ourselves. This relies on docker-py's request helpers (``_get``,
    ``_url``) and on http.client's socket file (``raw._fp.fp``), as docker-py itself does.
    """

    def __init__(self, api: Any, container_id: str, follow: bool,
                 since: str | None, tail: int | None = None) -> None:
        params: dict[str, Any] = {
            "stdout": 1, "stderr": 1, "follow": int(follow), "timestamps": 1, "tail": "all" if tail is None else tail}
        if since is not None:
            params["since"] = since
        url = api._url("/containers/{0}/logs", container_id)
        self._response = api._get(url, params=params, stream=True, timeout=None)
        api._raise_for_status(self._response)
        self._closer = CancellableStream(iter(()), self._response)

    def frames(self) -> Iterator[dict[Stream, list[bytes]]]:
        """Yield the payloads of the log messages by stream, once per chunk received."""
        buf = b""
        for chunk in self._body():
            buf += chunk
            out: list[bytes] = []
            err: list[bytes] = []
            offset = 0
            while len(buf) - offset >= 8:
                kind, length = _HEADER.unpack_from(buf, offset)
                end = offset + 8 + length
                if end > len(buf):
                    break
                (err if kind == _STDERR else out).append(buf[offset + 8:end])
                offset = end
            buf = buf[offset:]
            yield {Stream.STDOUT: out, Stream.STDERR: err}

    def _body(self) -> Iterator[bytes]:
        """The response body in pieces as large as have arrived."""
        raw = self._response.raw
        if self._response.headers.get("Transfer-Encoding", "").lower() != "chunked":
            while data := raw.read1(1 << 16):
                yield data
            return
        fp = raw._fp.fp  # the socket file; http.client has read the headers only
        decoder = _Unchunker()
        while not decoder.finished and (data := fp.read1(1 << 16)):
            if body := decoder.feed(data):
                yield body

    def close(self) -> None:
        """Close the connection, waking a thread blocked reading it."""
        try:
            self._closer.close()
        except Exception:  # a half-dead socket fails to close in many ways; it is gone
            log.debug("closing a log stream failed", exc_info=True)


class _Unchunker:
    """Decodes HTTP/1.1 chunked transfer encoding fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.finished = False
        self._buf = b""
        self._left = 0            # data bytes left in the current chunk
        self._crlf_due = False    # the CRLF after a chunk's data is still to come

    def feed(self, data: bytes) -> bytes:
        buf, pos, out = self._buf + data, 0, []
        while not self.finished:
            if self._left:
                piece = buf[pos:pos + self._left]
                if not piece:
                    break
                out.append(piece)
                pos += len(piece)
                self._left -= len(piece)
                self._crlf_due = not self._left
                continue
            if self._crlf_due:
                if len(buf) - pos < 2:
                    break
                pos, self._crlf_due = pos + 2, False
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            self._left = int(buf[pos:end].split(b";")[0], 16)
            pos = end + 2
            self.finished = self._left == 0
        self._buf = buf[pos:]
        return b"".join(out)
