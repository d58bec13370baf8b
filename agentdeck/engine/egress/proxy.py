"""An allowlisting HTTP proxy: the only way out for containers on the egress network.

It understands ``CONNECT host:port`` (HTTPS, any TLS stays end to end) and plain HTTP
requests with an absolute URI (``GET http://host:port/path``). A target is allowed when
its exact ``host:port`` is in the allowlist of whoever connects; anything else gets a
403. Every attempt, allowed or not, is reported through ``on_event``. Upstream
connections are made from the host, so an allowlisted ``127.0.0.1:PORT`` is reachable
from a container only through the proxy.

Connections are capped per task and in total (each costs the engine two file
descriptors): one over a cap gets a 503 before its request is read, and the refusal is
reported (at most once per `CAP_REPORT_EVERY` seconds per task, with the number refused
meanwhile, so a flood of connections is not a flood of log lines).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, Protocol
from urllib.parse import urlsplit

from agentdeck.engine.errors import InvalidInput

log = logging.getLogger(__name__)

#: Longest request head (request line and headers) read from a client.
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client has to send its request head, and an upstream to accept.
HEAD_TIMEOUT = 30.0
_CHUNK = 64 * 1024
#: Connections one task may have open through the proxy at once (tunnels included). An
#: agent CLI uses a handful; a build tool fetching in parallel some dozens.
MAX_TASK_CONNECTIONS = 64
#: Connections the proxy serves at once over all tasks: 2 descriptors each, well inside
#: the 1024 a desktop session usually allows a process.
MAX_CONNECTIONS = 256
#: Seconds between two reports of refusals at a cap for the same task.
CAP_REPORT_EVERY = 10.0


class EventCallback(Protocol):
    def __call__(self, task_ref: str, target: str, allowed: bool,
                 why: str | None = None, /) -> None:
        """One connection attempt: ``target`` is ``host:port`` (``""`` when refused at a
        cap before its request was read); ``why`` says why it was refused, when not for
        the allowlist."""


@dataclass(frozen=True)
class Grant:
    """What one client (one task's container) may reach.

    Args:
        task_ref: passed back in ``on_event`` (the engine's task id).
        allow: the ``host:port`` targets it may reach (see `parse_allow`).
    """

    task_ref: str
    allow: frozenset[str]


#: Finds the grant of a client by its IP address; None: a stranger, refused.
Identify = Callable[[str], Awaitable["Grant | None"]]


def parse_allow(entries: Iterable[str]) -> frozenset[str]:
    """Normalise allowlist entries to ``host:port``.

    An entry is ``host:port``, a bare ``host`` (port 443) or a URL
    (``https://api.anthropic.com/v1`` → ``api.anthropic.com:443``). Hosts are lower-cased;
    no wildcards: a host is allowed exactly as written.

    Raises:
        InvalidInput: an entry is empty or has a port that is not a number.
    """
    targets = set()
    for entry in entries:
        text = str(entry).strip()
        if "://" in text:
            url = urlsplit(text)
            default = 443 if url.scheme == "https" else 80
            text = f"{url.hostname or ''}:{url.port or default}"
        host, port = split_target(text, 443)
        if not host or port is None:
            raise InvalidInput(f"cannot read the egress entry {entry!r}: write host:port, "
                               "e.g. 'api.anthropic.com:443'")
        targets.add(f"{host}:{port}")
    return frozenset(targets)


def split_target(text: str, default_port: int) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too) → (lower-case host, port or None if unreadable)."""
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:  # no port (or only the inside of an IPv6 literal)
        host, port = text, str(default_port)
    host = host.strip("[]").lower()
    return host, int(port) if port.isdigit() and 0 < int(port) < 65536 else None


class EgressProxy:
    """The proxy server; ``start`` it on an address, ``close`` it when done.

    Args:
        identify: the grant of a client IP, or None to refuse it everything.
        on_event: ``on_event(task_ref, "host:port", allowed[, why])`` for each attempt,
            on the loop; the task ref of a stranger is ``""``.
        max_connections: connections served at once in total.
        max_per_task: connections served at once for one task.
    """

    def __init__(self, identify: Identify, on_event: EventCallback, *,
                 max_connections: int = MAX_CONNECTIONS,
                 max_per_task: int = MAX_TASK_CONNECTIONS) -> None:
        self._identify = identify
        self._on_event = on_event
        self._max_total, self._max_task = max_connections, max_per_task
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._per_task: Counter[str] = Counter()
        self._cap_reports: dict[str, tuple[float, int]] = {}

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) it listens on."""
        assert self._server is not None, "start the proxy first"
        return self._server.sockets[0].getsockname()[:2]

    async def start(self, host: str, port: int = 0) -> None:
        """Listen on ``host:port`` (port 0: any free port)."""
        self._server = await asyncio.start_server(self._handle, host, port,
                                                  limit=MAX_HEAD_BYTES)

    async def close(self) -> None:
        """Stop listening and cut every open tunnel."""
        if self._server is None:
            return
        self._server.close()
        for handler in list(self._handlers):
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        full = len(self._handlers) >= self._max_total
        self._handlers.add(task)
        try:
            if full:
                await self._over_cap(writer, "", f"the proxy serves {self._max_total} "
                                     "connections at once (its limit for all tasks)")
            else:
                await self._admit(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                TimeoutError):
            pass  # the client went away or sent garbage: nothing to answer
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Tell whose connection it is before reading anything, and hold it to the cap of
        that task: a task cannot pin more than its share, not even with idle sockets."""
        grant = await self._identify(writer.get_extra_info("peername")[0])
        if grant is None:
            await self._serve(reader, writer, None)
            return
        ref = grant.task_ref
        if self._per_task[ref] >= self._max_task:
            await self._over_cap(writer, ref, f"the task has {self._max_task} connections "
                                 "open through the proxy (its limit)")
            return
        self._per_task[ref] += 1
        try:
            await self._serve(reader, writer, grant)
        finally:
            self._per_task[ref] -= 1
            if not self._per_task[ref]:
                del self._per_task[ref]

    async def _over_cap(self, writer: asyncio.StreamWriter, task_ref: str, why: str) -> None:
        self._report_cap(task_ref, why)
        await _answer(writer, 503, f"agentdeck egress: {why}; close connections and retry")

    def _report_cap(self, task_ref: str, why: str) -> None:
        """Report a refusal at a cap, at most once per `CAP_REPORT_EVERY` per task."""
        now = time.monotonic()
        last, skipped = self._cap_reports.get(task_ref, (float("-inf"), 0))
        if now - last < CAP_REPORT_EVERY:
            self._cap_reports[task_ref] = (last, skipped + 1)
            return
        self._cap_reports[task_ref] = (now, 0)
        more = f" ({skipped} more refused in the last {CAP_REPORT_EVERY:g} s)" if skipped else ""
        log.warning("egress: connection of task %s refused: %s%s", task_ref or "(unknown)",
                    why, more)
        self._on_event(task_ref, "", False, f"a new connection: {why}{more}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     grant: Grant | None) -> None:
        async with asyncio.timeout(HEAD_TIMEOUT):
            head = await reader.readuntil(b"\r\n\r\n")
        request_line, _, headers = head.decode("latin-1").partition("\r\n")
        method, target, version = (request_line.split(" ") + ["", ""])[:3]
        connect = method.upper() == "CONNECT"
        if connect:
            host, port = split_target(target, 443)
        else:
            url = urlsplit(target)
            host, port = (url.hostname or "").lower(), url.port if url.scheme == "http" else None
            port = port or (80 if url.scheme == "http" else None)
        if not host or port is None or not version.startswith("HTTP/"):
            await _answer(writer, 400, "send CONNECT host:port or an absolute http:// URI")
            return
        where = f"{host}:{port}"
        allowed = grant is not None and where in grant.allow
        self._on_event(grant.task_ref if grant else "", where, allowed)
        if not allowed:
            await _answer(writer, 403, f"agentdeck egress: {where} is not on the allowlist")
            return
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            await _answer(writer, 502, f"agentdeck egress: cannot reach {where}: {exc}")
            return
        try:
            if connect:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up_writer.write(_origin_request(method, url, version, headers))
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()


def _origin_request(method: str, url, version: str, headers: str) -> bytes:
    """The request as the origin server wants it: path only, no proxy headers, and
    ``Connection: close`` so a kept-alive client cannot reuse the tunnel."""
    path = url.path or "/"
    if url.query:
        path += f"?{url.query}"
    kept = [h for h in headers.split("\r\n") if h and not h.lower().startswith(
        ("proxy-", "connection:", "keep-alive:"))]
    lines = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _pipe_both(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways until the upstream side is done (a client that only
    half-closed after its request still gets the whole answer)."""
    upward = asyncio.create_task(_pipe(reader, up_writer))
    try:
        await _pipe(up_reader, writer)
    finally:
        upward.cancel()
        await asyncio.gather(upward, return_exceptions=True)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(_CHUNK):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()


async def _answer(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway",
              503: "Service Unavailable"}[status]
    body = (text + "\n").encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
