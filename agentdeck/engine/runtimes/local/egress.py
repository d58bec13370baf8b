"""The host side of a confined local agent's egress: one proxy and one unix socket per task.

A sandbox with network ``egress`` has a network namespace of its own (loopback only). Its
forwarder (`agentdeck.engine.runtimes.local.egress_forward`) relays to a unix socket in the run dir's
``egress`` dir, bound into the sandbox; here each connection on that socket is relayed to
an `EgressProxy` that holds only this task's grant (so no peer address is needed to tell
tasks apart). The socket's dir, not the socket, is bound: an engine started later serves a
new socket at the same path and the running sandbox reaches it.
"""
from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from agentdeck.engine.egress.allowlist import egress_allowlist
from agentdeck.engine.egress.proxy import EgressProxy, EventCallback, Grant
from agentdeck.engine.runtimes.base import LaunchSpec

SOCKET_NAME = "proxy.sock"
_CHUNK = 64 * 1024


class TaskEgress:
    """The proxy and socket of one task; `close` stops both."""

    def __init__(self, proxy: EgressProxy, server: asyncio.AbstractServer) -> None:
        self._proxy, self._server = proxy, server

    async def close(self) -> None:
        self._server.close()
        await self._proxy.close()


async def open_egress(spec: LaunchSpec, sock_dir: Path, on_event: EventCallback) -> TaskEgress:
    """Serve the proxy socket of ``spec``'s task in ``sock_dir`` (created, 0700)."""
    allow = egress_allowlist(spec.profile) or frozenset()
    grant = Grant(spec.task_id, allow)

    async def identify(_peer: str) -> Grant:
        return grant  # only this task's sandbox can reach this proxy's socket

    proxy = EgressProxy(identify, on_event)
    await proxy.start("127.0.0.1")
    host, port = proxy.address
    sock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = sock_dir / SOCKET_NAME
    path.unlink(missing_ok=True)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        copies = {asyncio.ensure_future(_copy(reader, up_writer)),
                  asyncio.ensure_future(_copy(up_reader, writer))}
        try:
            await asyncio.wait(copies, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for copy in copies:
                copy.cancel()
            await asyncio.gather(*copies, return_exceptions=True)
            for each in (writer, up_writer):
                each.close()

    server = await asyncio.start_unix_server(relay, sock=_bound_socket(sock_dir))
    return TaskEgress(proxy, server)


def _bound_socket(sock_dir: Path) -> socket.socket:
    """A unix socket bound at ``sock_dir``/SOCKET_NAME, however long that path is.

    A socket path may hold 107 bytes at most, which a data dir deep in a home (or a test's
    temp dir) exceeds; binding through the dir's descriptor (``/proc/self/fd/N/name``)
    keeps the path short and names the same file.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dir_fd = os.open(sock_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sock.bind(f"/proc/self/fd/{dir_fd}/{SOCKET_NAME}")
    except OSError:
        sock.close()
        raise
    finally:
        os.close(dir_fd)
    return sock


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Bytes from ``source`` to ``sink`` until EOF, then half-close ``sink``."""
    while data := await source.read(_CHUNK):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()
