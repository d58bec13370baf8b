"""The Docker runtime's side of the egress policy: one network, one proxy, the grants.

A profile asks for egress with ``network = true`` and ``options.egress`` (a list of
``host:port`` entries or URLs). Its containers join the data dir's internal network and
get the proxy variables; the proxy tells them apart by their address on that network.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from agentdeck.engine.runtimes.docker.egress_network import (EgressNetwork, container_at, ensure_network,
                                   remove_network)
from agentdeck.engine.egress.proxy import EgressProxy, EventCallback, Grant
from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE

log = logging.getLogger(__name__)


def _log_event(task_ref: str, target: str, allowed: bool, why: str | None = None) -> None:
    if not allowed:
        log.warning("egress refused for task %s: %s", task_ref or "(unknown)", why or target)


class EgressGate:
    """Opens the network and the proxy at the first egress container; `close` stops it.

    Args:
        home: the data dir (names and labels the network).
        on_event: ``on_event(task_id, "host:port", allowed)`` for every attempt; default:
            refused ones are logged as warnings.
    """

    def __init__(self, home: str, on_event: EventCallback | None = None) -> None:
        self._home = home
        self._on_event = on_event or _log_event
        self._grants: dict[str, Grant] = {}
        self._proxy: EgressProxy | None = None
        self._network: EgressNetwork | None = None
        self._endpoint: str | None = None
        self._client_of: Callable[[], Any] | None = None
        self._lock = asyncio.Lock()

    async def open(self, endpoint: str, url: str | None,
                   client_of: Callable[[], Any]) -> EgressNetwork:
        """The network on ``endpoint``, with the proxy listening on its gateway.

        Raises:
            RuntimeUnavailable: the endpoint is remote (the proxy runs on this host), it
                is not the endpoint egress was first opened on, or the proxy cannot bind.
        """
        if url is not None and not url.startswith("unix://"):
            raise RuntimeUnavailable(
                f"egress-limited profiles need a local Docker endpoint: the proxy runs on "
                f"this host, not on {url}")
        async with self._lock:
            if self._network is not None:
                if endpoint != self._endpoint:
                    raise RuntimeUnavailable(
                        f"egress is open on Docker endpoint {self._endpoint}; profiles with "
                        f"options.egress run only there, not on {endpoint}")
                return self._network
            network = await asyncio.to_thread(ensure_network, client_of(), self._home)
            proxy = EgressProxy(self._identify, self._on_event)
            try:
                await proxy.start(network.gateway, network.port)
            except OSError as exc:
                raise RuntimeUnavailable(
                    f"the egress proxy cannot listen on {network.gateway}:{network.port} "
                    f"({exc}); remove the network ('docker network rm {network.name}') so "
                    "a new port is chosen") from exc
            self._endpoint, self._client_of = endpoint, client_of
            self._network, self._proxy = network, proxy
            return network

    def grant(self, container_id: str, task_ref: str, allow: frozenset[str]) -> None:
        """Let container ``container_id`` reach ``allow``; its events carry ``task_ref``."""
        self._grants[container_id] = Grant(task_ref, allow)

    async def _identify(self, ip: str) -> Grant | None:
        assert self._network is not None and self._client_of is not None
        try:
            container_id = await asyncio.to_thread(
                lambda: container_at(self._client_of(), self._network.name, ip))
        except (RuntimeUnavailable, *UNREACHABLE) as exc:  # refuse rather than guess
            log.warning("egress: cannot tell which container %s is: %s", ip, exc)
            return None
        return self._grants.get(container_id) if container_id else None

    async def close(self) -> None:
        """Stop the proxy and remove the network unless containers still use it.

        Containers left running keep the network; they reach the proxy again at the next
        `open`, which finds the network and its port in place.
        """
        async with self._lock:
            if self._proxy is not None:
                await self._proxy.close()
            if self._client_of is not None:
                await asyncio.to_thread(self._remove_network, self._client_of)
            self._proxy = self._network = self._endpoint = self._client_of = None
            self._grants.clear()

    def _remove_network(self, client_of: Callable[[], Any]) -> None:
        try:
            remove_network(client_of(), self._home)
        except UNREACHABLE as exc:
            log.warning("egress network of %s left in place: %s", self._home, exc)
