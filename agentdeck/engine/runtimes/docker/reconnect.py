"""Finding a container again when its Docker daemon stops answering and comes back.

A daemon that dies (a crash, ``systemctl restart docker``, a remote box rebooting) does
not end the containers' story: their shims run on, one may finish while no daemon
answers, and the restarted daemon knows its exit code and keeps its log. So a sandbox
that loses its daemon waits for it, up to a limit, instead of reporting the attempt lost.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import docker.errors

from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.endpoints import Endpoint, describe
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE, EndpointPool

#: Seconds a sandbox waits for its daemon to answer again before the attempt is lost.
RECONNECT_WITHIN = 120.0
#: Seconds between two tries to reach a daemon that went away.
RECONNECT_POLL = 1.0


class Reconnect:
    """The container of one sandbox, found again through a new client after its daemon
    went away; shared by the sandbox's threads (the waiter and the log follower).

    Args:
        pool: the endpoints' clients.
        endpoint: the container's daemon.
        container: the SDK container as first found.
        within: seconds to wait for the daemon before giving up.
    """

    def __init__(self, pool: EndpointPool, endpoint: Endpoint, container: Any,
                 within: float) -> None:
        self._pool, self._endpoint, self._within = pool, endpoint, within
        self._current = container
        self._lock = threading.Lock()
        self._quit = threading.Event()
        #: Why no container can be had any more (None while one may still come back).
        self.gone: str | None = None

    @property
    def current(self) -> Any:
        """The newest SDK container (bound to a client that answered last)."""
        return self._current

    def after(self, broken: Any) -> Any | None:
        """The container again once its daemon answers; None if it does not within the
        limit, or `quit` was called (`gone` says why, unless it was a detach).

        Args:
            broken: the container object whose call failed; if another thread has
                found the container again since, that newer one is returned at once.

        Raises:
            docker.errors.NotFound: the daemon is back, the container is not.
        """
        with self._lock:
            if self._current is not broken or self.gone is not None:
                return None if self.gone is not None else self._current
            self._pool.mark_down(self._endpoint.name)
            deadline = time.monotonic() + self._within
            while not self._quit.is_set():
                container = self._find()
                if container is not None:
                    self._current = container
                    return container
                if time.monotonic() >= deadline:
                    self.gone = (f"{describe(self._endpoint)} went away and did not come back "
                                 f"within {self._within:g} s")
                    return None
                self._quit.wait(RECONNECT_POLL)
            return None

    def _find(self) -> Any | None:
        try:
            container = self._pool.client(self._endpoint.name).containers.get(
                self._current.id)
        except docker.errors.NotFound:
            raise
        except (RuntimeUnavailable, *UNREACHABLE):  # (an answer that is an error, too)
            return None
        self._pool.mark_up(self._endpoint.name)
        return container

    def quit(self, reason: str | None = None) -> None:
        """Stop waiting for the daemon; ``reason`` (None for a detach) becomes `gone`."""
        if reason is not None and self.gone is None:
            self.gone = reason
        self._quit.set()
