"""Reading a container's log over the Docker API fast: our own frame decoding."""
from __future__ import annotations

import logging
import select
import struct
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import docker.errors
import requests
from docker.types import CancellableStream

from agentdeck.engine.models import Stream

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxL")
_STDERR = 2  # the stream byte of a multiplexed log message's header
_GATHER_BYTES = 1 << 16  # at most this much is joined into one piece


class LogRequest:
    """One ``GET /containers/{id}/logs`` response, read in large pieces.

    The SDK's reader does two small reads per log message (~60k lines/s here). We undo
    the stream framing ourselves over what the public urllib3 API hands out: a finished
    log (no follow) in 64 KiB reads, a follow stream as the chunks that have arrived
    (`_gathered`: the daemon flushes each message, so waiting for more would add latency).
    Only public API is used: requests' ``Session.get`` (the SDK's client is one) and
    urllib3's ``read``, ``read_chunked`` and ``read1``.
    """

    def __init__(self, api: Any, container_id: str, follow: bool,
                 since: str | None, tail: int | None = None) -> None:
        params: dict[str, Any] = {
            "stdout": 1, "stderr": 1, "follow": int(follow), "timestamps": 1, "tail": "all" if tail is None else tail}
        if since is not None:
            params["since"] = since
        path = quote(f"/containers/{container_id}/logs")
        self._follow = follow
        self._response = api.get(f"{api.base_url}/v{api.api_version}{path}", params=params,
                                 stream=True, timeout=None)
        try:
            self._response.raise_for_status()
        except requests.exceptions.HTTPError as exc:  # NotFound etc., as the SDK raises
            docker.errors.create_api_error_from_http_exception(exc)
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
        """The response body in pieces: large ones, or what has arrived when following."""
        raw = self._response.raw
        if not self._follow:
            while data := raw.read(1 << 16, decode_content=False):
                yield data
        elif raw.chunked:
            yield from _gathered(raw.read_chunked(decode_content=False), raw.fileno())
        else:
            while data := raw.read1(1 << 16):
                yield data

    def close(self) -> None:
        """Close the connection, waking a thread blocked reading it."""
        try:
            self._closer.close()
        except Exception:  # a half-dead socket fails to close in many ways; it is gone
            log.debug("closing a log stream failed", exc_info=True)


def _gathered(chunks: Iterator[bytes], fd: int) -> Iterator[bytes]:
    """Join the HTTP chunks that follow each other without a wait into one piece.

    The daemon sends each log message as a chunk of its own; handing each on alone costs
    a pass of the frame and line parsers apiece. A chunk is held back only while the
    socket has more bytes ready (``poll`` with no timeout), so nothing waits for data.
    """
    ready = select.poll()
    ready.register(fd, select.POLLIN)
    pieces: list[bytes] = []
    size = 0
    for chunk in chunks:
        pieces.append(chunk)
        size += len(chunk)
        if size >= _GATHER_BYTES or not ready.poll(0):
            yield b"".join(pieces)
            pieces, size = [], 0
    if pieces:
        yield b"".join(pieces)
