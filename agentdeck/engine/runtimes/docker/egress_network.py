"""The egress network: a Docker network with no route out, one per data dir.

It is created with ``internal=True``, so the daemon forwards nothing from it to any
other network or to the outside, and with inter-container traffic off, so its
containers (other tasks' agents) cannot reach each other either. What stays reachable
is the host itself on the network's gateway address, where agentdeck's `EgressProxy`
listens; the host guard (`agentdeck.engine.runtimes.docker.hostguard`) drops everything else the bridge
sends the host, and without it no egress-limited container is started. The proxy's port
is chosen once, when the network is made, and kept in the network's labels, so
containers that outlive an engine find the proxy of the next engine at the same
address.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import docker.errors

from agentdeck.engine.runtimes.docker.hostguard import bridge_name, drop_stale_rules, guard_host
from agentdeck.engine.errors import RuntimeUnavailable

HOME_LABEL = "agentdeck.home"
PORT_LABEL = "agentdeck.egress.port"
#: The bridge driver's switch for traffic between containers of the network.
ICC_OPTION = "com.docker.network.bridge.enable_icc"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EgressNetwork:
    """Where the proxy listens and how a container joins.

    Args:
        name: the Docker network's name.
        gateway: the host's address on it (the proxy binds here).
        port: the proxy's port.
    """

    name: str
    gateway: str
    port: int

    @property
    def proxy_url(self) -> str:
        return f"http://{self.gateway}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The proxy variables every HTTP client we know reads (curl, Python, Node)."""
        env = {var: self.proxy_url
               for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
        return {**env, "NO_PROXY": "", "no_proxy": ""}


def network_name(home: str) -> str:
    """``agentdeck-egress-<hash of the data dir>``."""
    return f"agentdeck-egress-{hashlib.sha256(home.encode()).hexdigest()[:8]}"


def ensure_network(client: Any, home: str) -> EgressNetwork:
    """The data dir's egress network, created (internal, labelled) when missing.

    Blocking: call it in a thread.

    Raises:
        RuntimeUnavailable: a network of that name exists that is not ours or not
            internal, it has no IPv4 gateway, it still lets containers reach each other
            and is in use, or the host cannot be guarded against its containers.
    """
    name = network_name(home)
    try:
        network = client.networks.get(name)
    except docker.errors.NotFound:
        network = _create(client, name, home)
    if (network.attrs.get("Options") or {}).get(ICC_OPTION) != "false":
        network = _renew(client, network, home)
    attrs = network.attrs
    labels = attrs.get("Labels") or {}
    if labels.get(HOME_LABEL) != home or not attrs.get("Internal"):
        raise RuntimeUnavailable(
            f"a Docker network named {name} exists that agentdeck did not make as an "
            f"internal network; remove it ('docker network rm {name}')")
    gateways = [c.get("Gateway") for c in attrs.get("IPAM", {}).get("Config") or []]
    gateway = next((g for g in gateways if g and ipaddress.ip_address(g).version == 4), None)
    if gateway is None or PORT_LABEL not in labels:
        raise RuntimeUnavailable(f"the Docker network {name} has no IPv4 gateway or proxy "
                                 f"port; remove it ('docker network rm {name}')")
    port = int(labels[PORT_LABEL])
    problem = guard_host(bridge_name(attrs), port)
    if problem:
        # Never silently open: without the rules a container reaches every service the
        # host runs on 0.0.0.0 (measured), so no egress-limited container starts.
        raise RuntimeUnavailable(
            f"egress-limited profiles cannot run: the host's own services would be "
            f"reachable from their containers because the host guard cannot be installed "
            f"({problem}); run agentdeck as root with iptables, or give the profile "
            f"network = false (offline) or drop options.egress (full network)")
    return EgressNetwork(name, gateway, port)


def _renew(client: Any, network: Any, home: str) -> Any:
    """Replace a network of ours made before inter-container traffic was turned off."""
    if (network.attrs.get("Labels") or {}).get(HOME_LABEL) != home:
        return network  # not ours: `ensure_network` refuses it
    try:
        network.remove()
    except docker.errors.APIError as exc:
        if exc.status_code != 403:
            raise
        raise RuntimeUnavailable(
            f"the egress network {network.name} lets its containers reach each other and "
            "is still in use; it is replaced once its containers are gone") from exc
    return _create(client, network.name, home)


def _create(client: Any, name: str, home: str) -> Any:
    prune_stale_networks(client)
    port = _free_port()
    try:
        return client.networks.create(
            name, driver="bridge", internal=True, check_duplicate=True,
            options={ICC_OPTION: "false"}, labels={HOME_LABEL: home, PORT_LABEL: str(port)})
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise RuntimeUnavailable(f"Docker refused to create the network {name}: "
                                     f"{exc.explanation or exc}") from exc
        return client.networks.get(name)  # another engine made it just now


def prune_stale_networks(client: Any) -> list[str]:
    """Remove the egress networks of data dirs that no longer exist; their names.

    Each network takes one of the daemon's few default address pools (about 30), so
    networks left behind by deleted data dirs (test runs, throwaway homes) would in
    time stop any new network, ours or the user's, from being made. A network that
    still has containers attached stays.
    """
    removed = []
    for network in client.networks.list(filters={"label": HOME_LABEL}):
        home = (network.attrs.get("Labels") or {}).get(HOME_LABEL, "")
        if not home or os.path.isdir(home):
            continue
        try:
            network.remove()
        except docker.errors.APIError as exc:
            if exc.status_code not in (403, 404):  # 403: in use; 404: gone already
                raise
        else:
            removed.append(network.name)
    if removed:
        drop_stale_rules()
        log.info("removed egress networks of deleted data dirs: %s", ", ".join(removed))
    return removed


def _free_port() -> int:
    """A port free on the host now (the proxy binds it on the gateway address later)."""
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def remove_network(client: Any, home: str) -> None:
    """Remove the data dir's egress network (and its host rules) unless it is missing or
    still in use."""
    try:
        client.networks.get(network_name(home)).remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 403:  # 403: containers still use it; it stays
            raise
    else:
        drop_stale_rules()


def container_at(client: Any, name: str, ip: str) -> str | None:
    """The id of the container with address ``ip`` on network ``name``, if any.

    Blocking: call it in a thread. Asked per connection, not cached: an address is
    reused once its container is gone.
    """
    containers = client.api.inspect_network(name).get("Containers") or {}
    for container_id, info in containers.items():
        if (info.get("IPv4Address") or "").split("/")[0] == ip:
            return str(container_id)
    return None
