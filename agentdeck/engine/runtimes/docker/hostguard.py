"""Keep containers on the egress network away from the host itself.

An internal Docker network stops forwarding to other networks, but the host answers on
the network's gateway address: any host service listening on 0.0.0.0 would be reachable
from an agent's container. Two INPUT rules on the network's bridge close that: the proxy
port is accepted, everything else from that bridge is dropped. Installing them needs
root and iptables; without them egress-limited containers are not started (see
`agentdeck.engine.runtimes.docker.egress_network.ensure_network` and docs/egress.md).
"""
from __future__ import annotations

import os
import shutil
import subprocess


#: Marks our rules, so those of bridges that are gone can be found and removed.
COMMENT = "agentdeck-egress"


def guard_host(bridge: str, proxy_port: int) -> str | None:
    """Install the rules (once); return None, or why the host could not be guarded."""
    problem = cannot_guard()
    if problem is not None:
        return problem
    iptables = shutil.which("iptables") or "iptables"
    drop_stale_rules()
    tag = ["-m", "comment", "--comment", COMMENT]
    accept = ["INPUT", "-i", bridge, "-p", "tcp", "--dport", str(proxy_port), *tag, "-j", "ACCEPT"]
    drop = ["INPUT", "-i", bridge, *tag, "-j", "DROP"]
    for rule in (drop, accept):  # both inserted at the top: ACCEPT ends up first
        if _run(iptables, "-C", *rule) != 0 and _run(iptables, "-I", rule[0], "1", *rule[1:]) != 0:
            return f"iptables refused the rule {' '.join(rule)}"
    return None


def cannot_guard(path: str | None = None) -> str | None:
    """Why the rules could not be installed here (iptables on ``path``, root, a readable
    INPUT chain), or None: what `agentdeck doctor` reports. Blocking; changes nothing."""
    iptables = shutil.which("iptables", path=path)
    if iptables is None:
        return "iptables is not installed"
    if os.geteuid() != 0:
        return "installing iptables rules needs root"
    listed = subprocess.run([iptables, "-w", "-S", "INPUT"], capture_output=True, text=True)
    if listed.returncode != 0:
        return f"iptables cannot list the INPUT chain: {listed.stderr.strip() or listed.returncode}"
    return None


def drop_stale_rules() -> list[str]:
    """Remove our rules on bridges that no longer exist; the removed rules, as listed.

    A network's rules outlive it otherwise: each new egress network has a new bridge.
    """
    iptables = shutil.which("iptables")
    if iptables is None or os.geteuid() != 0:
        return []
    listed = subprocess.run([iptables, "-w", "-S", "INPUT"], capture_output=True, text=True)
    stale = [line for line in listed.stdout.splitlines()
             if f"--comment {COMMENT}" in line and not _interface_exists(line)]
    for line in stale:
        _run(iptables, "-D", *line.split()[1:])
    return stale


def _interface_exists(rule: str) -> bool:
    words = rule.split()
    name = words[words.index("-i") + 1] if "-i" in words else ""
    return bool(name) and os.path.exists(f"/sys/class/net/{name}")


def _run(iptables: str, *args: str) -> int:
    return subprocess.run([iptables, "-w", *args], capture_output=True).returncode


def bridge_name(network_attrs: dict) -> str:
    """The host interface of a Docker bridge network."""
    options = network_attrs.get("Options") or {}
    return options.get("com.docker.network.bridge.name") or f"br-{network_attrs['Id'][:12]}"
