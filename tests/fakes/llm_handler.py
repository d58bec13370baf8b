"""The HTTP side of the scripted LLM server: one handler thread per connection.

`LLMServer` (in `tests.fakes.llm_server`) owns the script; this module reads requests,
records them, asks the owner for the next scripted item and writes it in the wire format
of the endpoint (or plays the fault). Streams use chunked transfer encoding, so a stream
cut off before its terminating chunk is a broken body to the client, as in real life; the
``cut_event`` fault sends its stream unframed instead (the body ends where the connection
closes, as behind some proxies), so only the SSE framing shows that it was cut.
"""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fakes import wire_anthropic, wire_chat, wire_gemini, wire_responses
from tests.fakes.scripts import Fault, Reply

if TYPE_CHECKING:
    from tests.fakes.llm_server import LLMServer

ROUTES: dict[str, ModuleType] = {
    "/v1/chat/completions": wire_chat,
    "/v1/messages": wire_anthropic,
    "/v1/responses": wire_responses,
}


def wire_for(path: str) -> ModuleType | None:
    """The wire format of an LLM endpoint: a fixed route, or a Gemini model method."""
    found = wire_gemini.PATH.match(path)
    if found and found["method"] in wire_gemini.METHODS:
        return wire_gemini
    return ROUTES.get(path)


def is_llm_request(request: "Request") -> bool:
    """Whether ``request`` asked a model for a reply (and so took a scripted item)."""
    return request.method == "POST" and wire_for(request.path) is not None


@dataclass(frozen=True)
class Request:
    """One request as the server received it. Header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes



class ScriptedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: "LLMServer") -> None:
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
    server: ScriptedHTTPServer

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
        wire = wire_for(request.path)
        if wire is None:
            self._reply_json(404, wire_chat.error_body(404, f"no route POST {request.path}"))
            return
        item = self.server.owner.take_item(request)
        if item is None:
            message = f"fake LLM server: no scripted reply left for POST {request.path}"
            self._reply_json(400, wire.error_body(400, message))
            return
        stream = wire_gemini.is_stream(request.path) or bool(
            isinstance(request.body, dict) and request.body.get("stream"))
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
        self.server.owner.record_request(request)
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
        for event in events:
            self._chunk(_event_bytes(event))

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
        body = wire_gemini.with_model(request.path, request.body or {})
        if not stream:
            self._reply_json(200, wire.body(item, body))
            return
        self._start_stream()
        self._send_events(wire.stream_events(item, body))
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
            self.server.owner.wait_released()
            self._drop()
        elif fault.kind == "cut":
            self._play_cut(wire, fault.after or 0, request, stream)
        elif fault.kind == "cut_event":
            self._play_cut_event(self._sample_events(wire, request), fault)
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

    def _play_cut_event(self, events: list[tuple[str | None, Any]], fault: Fault) -> None:
        """Stream without framing, so the close is a clean end of body to HTTP."""
        after = fault.after or 0
        whole = b"".join(_event_bytes(e) for e in events[:after])
        last = _event_bytes(events[after])
        keep = len(last) // 2 if fault.keep is None else fault.keep
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(whole + last[:keep])
        self._drop()

    @staticmethod
    def _sample_events(wire: ModuleType, request: Request) -> list[tuple[str | None, Any]]:
        """The events of a plain text reply, to cut or stall part-way through."""
        return wire.stream_events(Reply("partial answer that never ends"), request.body or {})


def _event_bytes(event: tuple[str | None, Any]) -> bytes:
    """One SSE event as sent: an ``event:`` line if named, its ``data:`` line, a blank line."""
    name, payload = event
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return ((f"event: {name}\n" if name else "") + f"data: {data}\n\n").encode()
