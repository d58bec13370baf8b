"""Egress policy: containers reach only their allowlisted hosts, through our proxy.

`EgressProxy` is the allowlisting HTTP proxy; `ensure_network` makes the internal
Docker network whose only way out it is. `DockerRuntime` ties them together.
"""
from engine.egress.network import EgressNetwork, container_at, ensure_network, network_name
from engine.egress.proxy import EgressProxy, EventCallback, Grant, parse_allow

__all__ = ["EgressNetwork", "EgressProxy", "EventCallback", "Grant", "container_at",
           "ensure_network", "network_name", "parse_allow"]
