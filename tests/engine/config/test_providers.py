"""LLM providers: defaults, the user's providers.toml, key lookup, clients."""
from __future__ import annotations

from pathlib import Path

import pytest

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.llm import AnthropicClient, Message, OpenAIChatClient
from agentdeck.engine.config.providers import (
    DEFAULTS, Provider, get_provider, load_providers, make_client, resolve_key,
)
from tests.fakes.llm_server import LLMServer
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.scripts import reply


def test_defaults(tmp_path: Path) -> None:
    providers = load_providers(tmp_path)
    assert {"openai", "anthropic", "openrouter", "ollama", "lmstudio"} <= set(providers)
    assert providers["ollama"] == Provider("ollama", "openai", "http://127.0.0.1:11434/v1",
                                           None, False, 1)
    assert providers["anthropic"].kind == "anthropic"


def test_user_file_changes_and_adds(tmp_path: Path) -> None:
    (tmp_path / "providers.toml").write_text(
        '[providers.openai]\nmax_parallel = 9\n\n'
        '[providers.work]\nkind = "anthropic"\nbase_url = "https://llm.example.com"\n'
        'api_key_env = "WORK_KEY"\n')
    providers = load_providers(tmp_path)
    assert providers["openai"].max_parallel == 9
    assert providers["openai"].base_url == "https://api.openai.com/v1"
    assert providers["work"] == Provider("work", "anthropic", "https://llm.example.com",
                                         "WORK_KEY", True, 4)


@pytest.mark.parametrize("text, message", [
    ('[providers.x]\nkind = "gemini"\nbase_url = "http://h"\n', "line 2: providers.x.kind"),
    ('[providers.openai]\napi_key = "sk-123"\n', "line 2: API keys do not belong"),
    ('[providers.x]\nkind = "openai"\n', "line 1: new provider 'x' needs kind and base_url"),
    ('[providers.openai]\nmax_parallel = 0\n', "line 2: providers.openai.max_parallel"),
    ('[providers.openai]\nbase_url = "ftp://h"\n', "must be an http:// or https:// URL"),
    ('[providers.openai]\nurl = "http://h"\n', "line 2: unknown field 'url'"),
    ('[providers.openai\n', "line 1, column"),
])
def test_bad_file_is_explained(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "providers.toml").write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_providers(tmp_path)
    assert str(tmp_path / "providers.toml") in str(info.value) and message in str(info.value)


def test_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no LLM provider 'nope'; known: anthropic"):
        get_provider("nope", tmp_path)


def test_key_from_env_when_no_keyring_works(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's default keyring backend here is the failing one: lookups raise.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_key(load_providers()["openai"]) == "sk-env"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert resolve_key(load_providers()["openai"]) is None


def test_env_wins_over_keyring(memory_keyring: MemoryKeyring,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The one precedence of `agentdeck.engine.config.secrets.find_secret` (it was keyring first here)."""
    memory_keyring.set_password("agentdeck", "anthropic", "sk-ring")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
    assert resolve_key(DEFAULTS["anthropic"]) == "sk-env"
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert resolve_key(DEFAULTS["anthropic"]) == "sk-ring"
    assert resolve_key(Provider("anthropic", "anthropic", "http://h", "ANTHROPIC_API_KEY",
                                keyring=False)) is None


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(InvalidInput, match="set OPENROUTER_API_KEY or store it with `keyring"):
        make_client(load_providers()["openrouter"])


async def test_client_for_a_provider_talks_with_its_key(
        llm_server: LLMServer, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("agentdeck", "local", "sk-from-keyring")
    llm_server.enqueue(reply("hello"), reply("hi"))
    for kind, cls, url in [("openai", OpenAIChatClient, llm_server.base_url),
                           ("anthropic", AnthropicClient, llm_server.url)]:
        client = make_client(Provider("local", kind, url, "LOCAL_KEY"))
        assert isinstance(client, cls)
        await client.complete([Message.user("hi")], [], model="m", max_tokens=5)
        await client.aclose()
    first, second = llm_server.llm_requests()
    assert first.headers["authorization"] == "Bearer sk-from-keyring"
    assert second.headers["x-api-key"] == "sk-from-keyring"
