"""Secret values (API keys) for agents and LLM providers: one lookup, one precedence.

`find_secret` is the only place agentdeck reads a secret; its precedence:

1. the environment variable (``OPENAI_API_KEY``...), when set and not empty: a key given
   to one process overrides what is stored;
2. the system keyring, service ``agentdeck``, user = the variable's name (what the
   settings dialog's "API keys" page stores);
3. the system keyring, service ``agentdeck``, user = the provider's name
   (``keyring set agentdeck work``), for LLM providers only.

A provider with ``keyring = false`` skips 2 and 3. Values live only in memory and in the
agent's environment; they are never stored in SQLite and are masked in logs. Every
function here may block (keyring backends talk D-Bus, files...): call them in a thread.
keyring is imported when first used: importing it costs the desktop's start a tenth of
a second or more, and most starts never look a key up before the window shows.
"""
from __future__ import annotations

import logging
import os
from typing import Iterable, Mapping

from agentdeck.engine.errors import KeyringUnavailable

log = logging.getLogger(__name__)

SERVICE = "agentdeck"

#: What a user without a working keyring can do (the settings dialog, doctor).
KEYRING_HINT = ("install and unlock a Secret Service (Debian: apt install gnome-keyring; "
                "KDE: KWallet), or set the API keys as environment variables")


def find_secret(env_name: str | None, *, provider: str | None = None,
                use_keyring: bool = True) -> str | None:
    """The secret, by the precedence in the module docstring, or None.

    Args:
        env_name: The environment variable (and keyring user) holding it.
        provider: An LLM provider's name, looked up in the keyring last.
        use_keyring: False: only the environment (a provider's ``keyring = false``).
    """
    value = os.environ.get(env_name) if env_name else None
    if value or not use_keyring:
        return value or None
    for user in (env_name, provider):
        value = _keyring_value(user) if user else None
        if value:
            return value
    return None


def _keyring_value(user: str) -> str | None:
    """The keyring entry for ``user``, or None (also when no keyring backend works)."""
    import keyring
    try:
        return keyring.get_password(SERVICE, user)
    except Exception as exc:  # backends fail in assorted ways where no keyring runs
        log.debug("keyring lookup of %s failed: %s", user, type(exc).__name__)
        return None


def agent_env(names: Iterable[str]) -> dict[str, str]:
    """Values for the named variables (`find_secret`); unset ones are left out."""
    env: dict[str, str] = {}
    for name in names:
        value = find_secret(name)
        if value:
            env[name] = value
    return env


def stored_secrets(names: Iterable[str]) -> dict[str, bool]:
    """Whether the keyring holds each name (what the settings dialog shows).

    Raises:
        KeyringUnavailable: No keyring backend works here.
    """
    import keyring
    from keyring.errors import KeyringError
    try:
        return {name: keyring.get_password(SERVICE, name) is not None for name in names}
    except KeyringError as exc:
        raise KeyringUnavailable(f"no system keyring works here: {KEYRING_HINT}") from exc


def store_secrets(values: Mapping[str, str]) -> None:
    """Keep each value in the keyring under its variable's name.

    Raises:
        KeyringUnavailable: The keyring refused them.
    """
    import keyring
    from keyring.errors import KeyringError
    try:
        for name, value in values.items():
            keyring.set_password(SERVICE, name, value)
    except KeyringError as exc:
        raise KeyringUnavailable(f"could not store the API keys in the keyring ({exc}): "
                                 f"{KEYRING_HINT}") from exc


def delete_secret(name: str) -> None:
    """Remove the keyring entry of ``name`` (nothing happens when there is none).

    Raises:
        KeyringUnavailable: No keyring backend works here.
    """
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError
    try:
        keyring.delete_password(SERVICE, name)
    except PasswordDeleteError:
        return
    except KeyringError as exc:
        raise KeyringUnavailable(f"could not delete {name} from the keyring: {exc}") from exc
