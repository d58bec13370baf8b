"""A real HTTP server on 127.0.0.1 that plays scripted LLM conversations.

It speaks three wire formats, so our own clients and the real ``claude`` / ``codex``
CLIs can all talk to it:

- ``POST /v1/chat/completions``: OpenAI Chat Completions (``stream`` true → SSE).
- ``POST /v1/messages``: Anthropic Messages (``stream`` true → SSE); the query string
  (Claude Code sends ``?beta=true``) is ignored for routing.
- ``POST /v1/responses``: OpenAI Responses (Codex CLI).
- ``POST /v1/messages/count_tokens`` (a rough estimate), ``GET /v1/models``.

A test enqueues replies and faults (see `tests.fakes.scripts`); each LLM request takes
the first queued item whose ``when`` predicate accepts it (items without one accept
anything), else ``default``, else gets a 400 saying the script ran out. Every request
is recorded (method, path, headers, JSON body) in ``requests``. The server runs in a
background thread, so sync tests, async tests and subprocesses can all use it::

    with LLMServer() as server:
        server.enqueue(reply("", tool_call("run", {"command": "ls"})), reply("done"))
        client = OpenAIChatClient(server.base_url, "sk-test")

or take the ``llm_server`` pytest fixture.
"""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

from tests.fakes import wire_anthropic, wire_chat, wire_responses
from tests.fakes.scripts import Fault, Item, Reply

ROUTES: dict[str, ModuleType] = {
    "/v1/chat/completions": wire_chat,
    "/v1/messages": wire_anthropic,
    "/v1/responses": wire_responses,
}


@dataclass(frozen=True)
class Request:
    """One request as the server received it. Header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes


Predicate = Callable[[Request], bool]


class LLMServer:
    """The scripted server; a context manager that starts and stops it."""

    def __init__(self) -> None:
        self.default: Item | None = None
        self._script: list[tuple[Predicate | None, Item]] = []
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._httpd = _HTTPServer(self)
        # A short poll interval keeps close() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        name="llm-server", daemon=True)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> "LLMServer":
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; hung responses are released and open connections dropped."""
        self._release.set()
        self._httpd.shutdown()
        self._httpd.drop_connections()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> "LLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -----------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (what ``ANTHROPIC_BASE_URL`` wants)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (what OpenAI-style clients want)."""
        return self.url + "/v1"

    # -- scripting -------------------------------------------------------------------
    def enqueue(self, *items: Item, when: Predicate | None = None) -> None:
        """Queue replies/faults; with ``when`` they only answer requests it accepts."""
        with self._cond:
            self._script.extend((when, item) for item in items)

    @property
    def remaining(self) -> int:
        """How many scripted items are still queued."""
        with self._cond:
            return len(self._script)

    def release(self) -> None:
        """Let every currently hung response go (its connection is then dropped)."""
        self._release.set()
        self._release = threading.Event()

    # -- inspection --------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        """All requests so far, oldest first (a copy)."""
        with self._cond:
            return list(self._requests)

    def llm_requests(self) -> list[Request]:
        """The requests that asked a model for a reply (one per scripted item taken)."""
        return [r for r in self.requests if r.method == "POST" and r.path in ROUTES]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until ``count`` LLM requests arrived; raise TimeoutError otherwise."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._llm_unlocked()) >= count, timeout)
            if not ok:
                raise TimeoutError(f"only {len(self._llm_unlocked())} of {count} LLM requests")
            return self._llm_unlocked()

    def _llm_unlocked(self) -> list[Request]:
        return [r for r in self._requests if r.method == "POST" and r.path in ROUTES]

    # -- used by the handler ---------------------------------------------------------
    def _record(self, request: Request) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _take(self, request: Request) -> Item | None:
        with self._cond:
            for i, (when, item) in enumerate(self._script):
                if when is None or when(request):
                    del self._script[i]
                    return item
            return self.default

    def _wait_released(self) -> None:
        self._release.wait()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LLMServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._open.add if alive else self._open.discard)(conn)

    def drop_connections(self) -> None:
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        return

    def do_HEAD(self) -> None:
        self._reply_json(200, None)

    def do_GET(self) -> None:
        request = self._read_request()
        if request.path == "/v1/models":
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "agentdeck-fake"}
                      for m in ("fake-model", "gpt-4.1", "claude-sonnet-4-5")]
            self._reply_json(200, {"object": "list", "data": models})
        else:
            self._reply_json(404, wire_chat.error_body(404, f"no route GET {request.path}"))

    def do_POST(self) -> None:
        request = self._read_request()
        if request.path == "/v1/messages/count_tokens":
            self._reply_json(200, {"input_tokens": max(1, len(request.raw) // 4)})
            return
        wire = ROUTES.get(request.path)
        if wire is None:
            self._reply_json(404, wire_chat.error_body(404, f"no route POST {request.path}"))
            return
        item = self.server.owner._take(request)
        if item is None:
            message = f"fake LLM server: no scripted reply left for POST {request.path}"
            self._reply_json(400, wire.error_body(400, message))
            return
        stream = bool(isinstance(request.body, dict) and request.body.get("stream"))
        if isinstance(item, Reply):
            self._play_reply(wire, item, request, stream)
        else:
            self._play_fault(wire, item, request, stream)

    # -- reading ---------------------------------------------------------------------
    def _read_request(self) -> Request:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parts.query,
                          {k.lower(): v for k, v in self.headers.items()}, body, raw)
        self.server.owner._record(request)
        return request

    # -- writing ---------------------------------------------------------------------
    def _reply_json(self, status: int, payload: Any, headers: Any = (), raw: bytes = b"") -> None:
        data = raw or (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", "req_fake")
        self.end_headers()

    def _send_events(self, events: list[tuple[str | None, Any]]) -> None:
        for name, payload in events:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            text = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
            self._chunk(text.encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """End the exchange by closing the connection, whatever was sent so far."""
        self.close_connection = True
        self.wfile.flush()

    # -- playing the script -------------------------------------------------------------
    def _play_reply(self, wire: ModuleType, item: Reply, request: Request, stream: bool) -> None:
        if not stream:
            self._reply_json(200, wire.body(item, request.body))
            return
        self._start_stream()
        self._send_events(wire.stream_events(item, request.body))
        self._end_stream()

    def _play_fault(self, wire: ModuleType, fault: Fault, request: Request,
                    stream: bool) -> None:
        if fault.kind == "status":
            self._reply_json(fault.status, wire.error_body(fault.status, fault.message),
                             fault.headers)
        elif fault.kind == "malformed":
            self._play_malformed(wire, stream)
        elif fault.kind == "hang":
            if fault.after is not None:
                self._start_stream()
                self._send_events(self._sample_events(wire, request)[:fault.after])
            self.server.owner._wait_released()
            self._drop()
        elif fault.kind == "cut":
            self._play_cut(wire, fault.after or 0, request, stream)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _play_malformed(self, wire: ModuleType, stream: bool) -> None:
        if not stream:
            self._reply_json(200, None, raw=b'{"id": "broken", "choices": [')
            return
        self._start_stream()
        name = "message_start" if wire is wire_anthropic else None
        self._send_events([(name, '{"type": "message_start", "message": {')])
        self._end_stream()

    def _play_cut(self, wire: ModuleType, after: int, request: Request, stream: bool) -> None:
        if not stream:
            data = json.dumps(wire.body(Reply("cut"), request.body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
        else:
            self._start_stream()
            self._send_events(self._sample_events(wire, request)[:after])
        self._drop()

    @staticmethod
    def _sample_events(wire: ModuleType, request: Request) -> list[tuple[str | None, Any]]:
        """The events of a plain text reply, to cut or stall part-way through."""
        return wire.stream_events(Reply("partial answer that never ends"), request.body or {})


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A started `LLMServer`, closed after the test."""
    with LLMServer() as server:
        yield server
