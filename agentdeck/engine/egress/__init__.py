"""Egress policy shared by both runtimes: the allowlisting HTTP proxy (`proxy`) and a
profile's allowlist (`allowlist`). The Docker runtime's network and host guard that make
the proxy a container's only way out live with it, in `agentdeck.engine.runtimes.docker`."""
