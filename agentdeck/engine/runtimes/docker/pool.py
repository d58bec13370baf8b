"""Docker endpoints (daemons) and how tasks are spread over them.

An endpoint is one Docker daemon — the local socket, ``tcp://``, ``ssh://`` — with a
number of containers it may run at once. The pool hands out the endpoint with the most
free capacity and remembers for a while which daemons did not answer, so their
capacity is not offered to the scheduler.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

import docker
import docker.errors
import requests
import urllib3.exceptions

from agentdeck.engine.errors import InvalidInput, RuntimeUnavailable
from agentdeck.engine.runtimes.docker.endpoints import DEFAULT_SOCKET, Endpoint, describe

#: Seconds an endpoint that did not answer is left out before it is tried again.
DOWN_FOR = 15.0
#: HTTP connections per container: two log streams and one wait.
_CONNECTIONS_PER_CONTAINER = 3
#: Errors meaning "this daemon does not answer" (refused, reset, cut mid-response).
UNREACHABLE = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
               docker.errors.DockerException)


class EndpointPool:
    """Clients and slot counts of a set of endpoints; thread-safe."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        names = [e.name for e in endpoints]
        if not endpoints or len(set(names)) != len(names):
            raise ValueError(f"endpoints need unique names, got {names}")
        self.endpoints = {e.name: e for e in endpoints}
        self._clients: dict[str, docker.DockerClient] = {}
        self._busy: dict[str, set[str]] = {name: set() for name in names}
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def client(self, name: str) -> docker.DockerClient:
        """The (cached) client of endpoint ``name``; blocking, call it from a thread.

        Raises:
            RuntimeUnavailable: the daemon does not answer.
        """
        with self._lock:
            client = self._clients.get(name)
        if client is not None:
            return client
        endpoint = self.endpoints[name]
        try:
            client = open_client(endpoint, 300,
                                 endpoint.max_parallel * _CONNECTIONS_PER_CONTAINER + 8)
        except RuntimeUnavailable:
            self.mark_down(name)
            raise
        with self._lock:
            self._clients.setdefault(name, client)
            return self._clients[name]

    def mark_down(self, name: str) -> None:
        """Leave endpoint ``name`` out of `free_slots` and `ranked` for a while."""
        with self._lock:
            self._down_until[name] = time.monotonic() + DOWN_FOR
            client = self._clients.pop(name, None)
        if client is not None:
            client.close()

    def answers(self, name: str) -> bool:
        """Whether endpoint ``name``'s daemon answers now (marked up or down accordingly);
        blocking, call it from a thread."""
        try:
            self.client(name).ping()
        except (RuntimeUnavailable, *UNREACHABLE):
            self.mark_down(name)
            return False
        self.mark_up(name)
        return True

    def mark_up(self, name: str) -> None:
        with self._lock:
            self._down_until.pop(name, None)

    def _is_down(self, name: str) -> bool:
        return self._down_until.get(name, 0.0) > time.monotonic()

    def ranked(self) -> list[str]:
        """Endpoint names, most free capacity first; those that did not answer last."""
        with self._lock:
            return sorted(self.endpoints, key=lambda n: (
                self._is_down(n), -(self.endpoints[n].max_parallel - len(self._busy[n]))))

    def free_slots(self) -> int:
        """Free capacity summed over the endpoints that answer."""
        with self._lock:
            return sum(max(0, e.max_parallel - len(self._busy[n]))
                       for n, e in self.endpoints.items() if not self._is_down(n))

    def take(self, name: str, key: str) -> None:
        """Count sandbox ``key`` as running on endpoint ``name``."""
        with self._lock:
            self._busy[name].add(key)

    def release(self, name: str, key: str) -> None:
        with self._lock:
            self._busy[name].discard(key)

    def reconfigure(self, endpoints: list[Endpoint]) -> list[str]:
        """Use ``endpoints`` from now on; the names whose client was dropped.

        Raises:
            InvalidInput: duplicate names, or an endpoint to remove (or to point at
                another daemon) still runs sandboxes.
        """
        wanted = {e.name: e for e in endpoints}
        if not endpoints or len(wanted) != len(endpoints):
            raise InvalidInput(f"Docker endpoints need unique names, got "
                               f"{[e.name for e in endpoints]}")
        with self._lock:
            gone = [name for name, old in self.endpoints.items()
                    if name not in wanted or wanted[name].url != old.url]
            busy = [name for name in gone if self._busy[name]]
            if busy:
                raise InvalidInput(
                    f"Docker endpoint {busy[0]} still runs {len(self._busy[busy[0]])} task(s); "
                    "change or remove it when they have finished")
            dropped = [self._clients.pop(name) for name in gone if name in self._clients]
            for name in gone:
                self._busy.pop(name, None)
                self._down_until.pop(name, None)
            self.endpoints = wanted
            for name in wanted:
                self._busy.setdefault(name, set())
        for client in dropped:
            client.close()
        return gone

    def close(self) -> None:
        """Close all clients (running containers are not affected)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def open_client(endpoint: Endpoint, timeout: float, max_pool_size: int = 10) -> docker.DockerClient:
    """A client of ``endpoint``'s daemon (blocking: it asks the daemon's API version).

    Raises:
        RuntimeUnavailable: the daemon does not answer; the message says what to do.
    """
    options = {"version": "auto", "timeout": timeout, "max_pool_size": max_pool_size}
    try:
        if endpoint.url is None:  # DOCKER_HOST, DOCKER_TLS_VERIFY, ... as the CLI does
            return docker.DockerClient.from_env(**options)
        return docker.DockerClient(base_url=endpoint.url, **options,
                                   use_ssh_client=endpoint.url.startswith("ssh://"))
    except UNREACHABLE as exc:
        raise RuntimeUnavailable(
            f"{describe(endpoint)} does not answer: {exc}. {start_hint(endpoint)}") from exc


def start_hint(endpoint: Endpoint) -> str:
    """What the user can do about a daemon that does not answer."""
    if endpoint.url and not endpoint.url.startswith("unix://"):
        return f"Start the Docker daemon at {endpoint.url} or remove that endpoint."
    docker_host = os.environ.get("DOCKER_HOST")
    if endpoint.url is None and docker_host and docker_host != DEFAULT_SOCKET:
        return (f"Start the Docker daemon at {docker_host}, or unset DOCKER_HOST to use "
                "the local one.")
    return ("Start it with 'sudo systemctl start docker' (or 'sudo dockerd &'; "
            "scripts/ensure-docker.sh does both and installs Debian's docker.io).")


def labels_match(container: Any, home: str) -> bool:
    """True for containers agentdeck made for this data dir (never touch the others)."""
    labels = container.labels or {}
    return "agentdeck.task" in labels and labels.get("agentdeck.home") == home
