"""Secret values for agents: the environment first, then the system keyring.

The settings dialog stores keys in the keyring under service ``agentdeck`` with the
environment variable name as user name. Values live only in memory and in the agent's
environment; they are never stored in SQLite and are masked in logs.
"""
from __future__ import annotations

import logging
import os
from typing import Iterable

log = logging.getLogger(__name__)

SERVICE = "agentdeck"


def keyring_value(name: str) -> str | None:
    """The keyring entry for ``name``, or None (also when no keyring backend works)."""
    try:
        import keyring
        return keyring.get_password(SERVICE, name)
    except Exception as exc:  # backends fail in assorted ways where no keyring runs
        log.debug("keyring lookup of %s failed: %s", name, type(exc).__name__)
        return None


def agent_env(names: Iterable[str]) -> dict[str, str]:
    """Values for the named variables: from the environment, else from the keyring."""
    env: dict[str, str] = {}
    for name in names:
        value = os.environ.get(name) or keyring_value(name)
        if value:
            env[name] = value
    return env
