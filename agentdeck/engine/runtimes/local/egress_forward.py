"""Runs inside the bubblewrap sandbox of an egress-limited local agent (stdlib only).

``python -I -S egress_forward.py PORT SOCKET -- AGENT...``: the sandbox has its own network
namespace with nothing but loopback, so the host's egress proxy is out of reach. This
listens on 127.0.0.1:PORT there (the agent's HTTP(S)_PROXY), relays every connection to
SOCKET — a unix socket the engine serves on the host, bound into the sandbox — and runs
the agent as its child, exiting with the agent's status. It ignores SIGTERM & co. so a
stop reaches the agent while its connections still work; it dies with the sandbox.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading

_CHUNK = 64 * 1024


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _relay(client: socket.socket, path: str) -> None:
    with client:
        try:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(path)
        except OSError:
            return  # the engine is not serving egress now: the client sees a closed connection
        with upstream:
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()


def _serve(server: socket.socket, path: str) -> None:
    while True:
        client, _ = server.accept()
        threading.Thread(target=_relay, args=(client, path), daemon=True).start()


def main(args: list[str]) -> int:
    """Listen, start the agent, relay until it exits; return its exit status."""
    port, path, command = int(args[0]), args[1], args[3:]
    server = socket.create_server(("127.0.0.1", port))
    child = os.fork()
    if child == 0:
        server.close()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python ignores it; the agent must not
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"agentdeck: cannot start {command[0]!r}: {exc}", file=sys.stderr)
            os._exit(127)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    threading.Thread(target=_serve, args=(server, path), daemon=True).start()
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
