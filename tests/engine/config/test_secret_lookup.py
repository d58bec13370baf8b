"""One secret lookup (`agentdeck.engine.config.secrets.find_secret`) for agents, providers and the dialog."""
from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from agentdeck.engine.errors import KeyringUnavailable
from agentdeck.engine.config.providers import DEFAULTS, resolve_key
from agentdeck.engine.config.secrets import (
    agent_env, delete_secret, find_secret, store_secrets, stored_secrets,
)
from tests.fakes.memory_keyring import MemoryKeyring


def test_precedence_env_then_keyring_by_variable_then_by_provider(
        memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    memory_keyring.set_password("agentdeck", "openai", "by-provider")
    assert resolve_key(DEFAULTS["openai"]) == "by-provider"
    store_secrets({"OPENAI_API_KEY": "by-variable"})
    assert resolve_key(DEFAULTS["openai"]) == "by-variable"
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert resolve_key(DEFAULTS["openai"]) == "from-env"
    assert find_secret("OPENAI_API_KEY") == "from-env"
    monkeypatch.setenv("OPENAI_API_KEY", "")  # an empty variable counts as unset
    assert agent_env(["OPENAI_API_KEY"]) == {"OPENAI_API_KEY": "by-variable"}


def test_agents_and_providers_agree(memory_keyring: MemoryKeyring,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent profile's secret and a provider's key named alike resolve to one value."""
    memory_keyring.set_password("agentdeck", "anthropic", "ring-provider")
    memory_keyring.set_password("agentdeck", "ANTHROPIC_API_KEY", "ring-variable")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env")
    assert agent_env(["ANTHROPIC_API_KEY"])["ANTHROPIC_API_KEY"] == resolve_key(
        DEFAULTS["anthropic"]) == "env"


def test_dialog_side_stores_lists_and_deletes(memory_keyring: MemoryKeyring,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    store_secrets({"MY_KEY": "v"})
    assert stored_secrets(["MY_KEY", "OTHER"]) == {"MY_KEY": True, "OTHER": False}
    assert find_secret("MY_KEY") == "v"
    delete_secret("MY_KEY")
    delete_secret("MY_KEY")  # gone already: nothing to do
    assert find_secret("MY_KEY") is None


def test_no_keyring_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """keyring's own failing backend, as where no desktop keyring runs."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        _no_keyring(monkeypatch)
    finally:
        keyring.set_keyring(previous)


def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "env")
    assert find_secret("MY_KEY") == "env"
    with pytest.raises(KeyringUnavailable, match="no system keyring works here: install and unlock a Secret Service"):
        stored_secrets(["MY_KEY"])
    with pytest.raises(KeyringUnavailable, match="could not store the API keys"):
        store_secrets({"MY_KEY": "v"})
