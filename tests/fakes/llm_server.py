"""A real HTTP server on 127.0.0.1 that plays scripted LLM conversations.

It speaks four wire formats, so our own clients and the real ``claude``, ``codex``,
``aider`` and ``gemini`` CLIs can all talk to it:

- ``POST /v1/chat/completions``: OpenAI Chat Completions (``stream`` true → SSE).
- ``POST /v1/messages``: Anthropic Messages (``stream`` true → SSE); the query string
  (Claude Code sends ``?beta=true``) is ignored for routing.
- ``POST /v1/responses``: OpenAI Responses (Codex CLI).
- ``POST /v1beta/models/MODEL:generateContent`` (``:streamGenerateContent`` → SSE): the
  Gemini API (Gemini CLI, with ``GOOGLE_GEMINI_BASE_URL`` set to `url`).
- ``POST /v1/messages/count_tokens`` (a rough estimate), ``GET /v1/models``.

A test enqueues replies and faults (see `tests.fakes.scripts`); each LLM request takes
the first queued item whose ``when`` predicate accepts it (items without one accept
anything), else ``default``, else gets a 400 saying the script ran out. Every request
is recorded (method, path, headers, JSON body) in ``requests``. The server runs in a
background thread, so sync tests, async tests and subprocesses can all use it::

    with LLMServer() as server:
        server.enqueue(reply("", tool_call("run", {"command": "ls"})), reply("done"))
        client = OpenAIChatClient(server.base_url, "sk-test")

or take the ``llm_server`` pytest fixture (tests/conftest.py).
"""
from __future__ import annotations

import threading
from typing import Callable

from tests.fakes.llm_handler import ROUTES, Request, ScriptedHTTPServer, is_llm_request
from tests.fakes.scripts import Item

__all__ = ["LLMServer", "Request", "ROUTES"]

Predicate = Callable[[Request], bool]


class LLMServer:
    """The scripted server; a context manager that starts and stops it."""

    def __init__(self) -> None:
        self.default: Item | None = None
        self._script: list[tuple[Predicate | None, Item]] = []
        self._requests: list[Request] = []
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._httpd = ScriptedHTTPServer(self)
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
        return [r for r in self.requests if is_llm_request(r)]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Block until ``count`` LLM requests arrived; raise TimeoutError otherwise."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._llm_unlocked()) >= count, timeout)
            if not ok:
                raise TimeoutError(f"only {len(self._llm_unlocked())} of {count} LLM requests")
            return self._llm_unlocked()

    def _llm_unlocked(self) -> list[Request]:
        return [r for r in self._requests if is_llm_request(r)]

    # -- called by the handler threads ------------------------------------------------
    def record_request(self, request: Request) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def take_item(self, request: Request) -> Item | None:
        with self._cond:
            for i, (when, item) in enumerate(self._script):
                if when is None or when(request):
                    del self._script[i]
                    return item
            return self.default

    def wait_released(self) -> None:
        self._release.wait()
