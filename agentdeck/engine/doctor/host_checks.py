"""This machine: bubblewrap and user namespaces (the local sandbox), the egress guard's
iptables rules (Docker tasks with an egress allowlist), the keyring backend."""
from __future__ import annotations

import concurrent.futures

import keyring

from agentdeck.engine.config.secrets import KEYRING_HINT, SERVICE
from agentdeck.engine.doctor.checks import Check, ok, problem
from agentdeck.engine.errors import RuntimeUnavailable
from agentdeck.engine.runtimes.docker.hostguard import cannot_guard
from agentdeck.engine.runtimes.local.bwrap import (INSTALL_HINT, OPT_OUT_HINT, USERNS_HINT,
                                                  find_bwrap, probe_namespaces)

#: Seconds a keyring backend may take to answer (some talk D-Bus to a daemon that hangs).
KEYRING_TIMEOUT = 10.0
#: Backends that hold nothing: keys then come only from environment variables.
_NO_KEYRING = ("keyring.backends.fail", "keyring.backends.null")


def check_sandbox(path: str | None, needed: bool) -> list[Check]:
    """``bwrap`` on ``path`` and a sandbox it can make (blocking)."""
    group = "local sandbox"
    try:
        bwrap = find_bwrap(path)
    except RuntimeUnavailable:
        return [problem(group, "bubblewrap", "bwrap is not on PATH",
                        f"{INSTALL_HINT}, {OPT_OUT_HINT}", needed)]
    checks = [ok(group, "bubblewrap", bwrap)]
    try:
        probe_namespaces(bwrap)
    except RuntimeUnavailable as exc:
        detail = str(exc).split(": " + USERNS_HINT)[0]
        checks.append(problem(group, "user namespaces", detail,
                              f"{USERNS_HINT}, {OPT_OUT_HINT}", needed))
    else:
        checks.append(ok(group, "user namespaces", "bwrap can make user, PID and mount namespaces"))
    return checks


def check_egress_guard(path: str | None, needed: bool) -> Check:
    """Whether the host guard's iptables rules could be installed (blocking; installs none)."""
    why = cannot_guard(path)
    if why is None:
        return ok("docker", "egress guard", "iptables rules can be installed (running as root)")
    return problem("docker", "egress guard", why,
                   "run agentdeck as root with iptables installed, or give the profiles "
                   "network = false (docs/egress.md)", needed)


def check_keyring() -> Check:
    """The keyring backend, and that it answers a lookup (blocking, bounded)."""
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if type(backend).__module__ in _NO_KEYRING:
        return problem("keys", "keyring", f"no usable keyring backend ({name})",
                       KEYRING_HINT, needed=False)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        pool.submit(backend.get_password, SERVICE, "agentdeck-doctor").result(KEYRING_TIMEOUT)
    except concurrent.futures.TimeoutError:
        return problem("keys", "keyring", f"{name} did not answer in {KEYRING_TIMEOUT:.0f} s",
                       "unlock or restart the keyring daemon, or set the API keys as "
                       "environment variables", needed=False)
    except Exception as exc:  # noqa: BLE001 - backends fail in assorted ways
        return problem("keys", "keyring", f"{name} fails: {exc}",
                       "set the API keys as environment variables instead", needed=False)
    finally:
        pool.shutdown(wait=False)
    return ok("keys", "keyring", name)
