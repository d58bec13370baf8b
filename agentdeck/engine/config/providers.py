"""LLM providers: where the built-in agent sends its requests, and with which key.

Built-in providers (openai, anthropic, openrouter, gemini, ollama, lmstudio) can be
changed and new ones added in ``<data dir>/providers.toml``::

    [providers.work]
    kind = "openai"                 # openai (Chat Completions) | anthropic (Messages)
    base_url = "https://llm.example.com/v1"
    api_key_env = "WORK_LLM_KEY"    # environment variable holding the key
    keyring = true                  # also look in the system keyring (default true)
    max_parallel = 2                # tasks using this provider at once

Keys never go in that file: `agentdeck.engine.config.secrets.find_secret` looks for them (the environment
variable, then the keyring under the variable's name, then under the provider's name, e.g.
``keyring set agentdeck work``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdeck.engine.errors import InvalidInput, NotFound
from agentdeck.engine.config.paths import data_dir
from agentdeck.engine.config.secrets import SERVICE, find_secret
from agentdeck.engine.config.tomlsource import TomlSource

if TYPE_CHECKING:
    from agentdeck.engine.llm.client import HTTPLLMClient


FILE = "providers.toml"
KINDS = ("openai", "anthropic")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Provider:
    """One LLM endpoint. ``api_key_env`` None means no key is needed (local servers)."""

    name: str
    kind: str
    base_url: str
    api_key_env: str | None = None
    keyring: bool = True
    max_parallel: int = 4


DEFAULTS: dict[str, Provider] = {p.name: p for p in (
    Provider("openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Provider("anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    Provider("openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    Provider("gemini", "openai", "https://generativelanguage.googleapis.com/v1beta/openai",
             "GEMINI_API_KEY"),
    Provider("ollama", "openai", "http://127.0.0.1:11434/v1", None, False, 1),
    Provider("lmstudio", "openai", "http://127.0.0.1:1234/v1", None, False, 1),
)}


def load_providers(home: Path | None = None) -> dict[str, Provider]:
    """The built-in providers, changed and extended by ``<home>/providers.toml``.

    Raises:
        InvalidInput: the file is unreadable or invalid (names the file and line).
    """
    providers = dict(DEFAULTS)
    path = (home or data_dir()) / FILE
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc}") from None
        providers.update(parse_providers(text, str(path), providers))
    return providers


def get_provider(name: str, home: Path | None = None) -> Provider:
    """The provider called ``name``; NotFound lists the known ones."""
    providers = load_providers(home)
    if name not in providers:
        raise NotFound(f"no LLM provider {name!r}; known: {', '.join(sorted(providers))} "
                       f"(add one in {(home or data_dir()) / FILE})")
    return providers[name]


def parse_providers(text: str, source: str,
                    base: dict[str, Provider]) -> dict[str, Provider]:
    """The providers a ``providers.toml`` text defines or changes, checked field by field."""
    doc = TomlSource(text, source)
    unknown = set(doc.data) - {"providers"}
    if unknown:
        doc.fail((min(unknown),), f"unknown table [{min(unknown)}] (expected [providers.NAME])")
    tables = doc.data.get("providers", {})
    if not isinstance(tables, dict):
        doc.fail(("providers",), "[providers] must hold one table per provider")
    return {name: _provider(doc, name, table, base.get(name)) for name, table in tables.items()}


def _provider(doc: TomlSource, name: str, table: Any, old: Provider | None) -> Provider:
    where = ("providers", name)
    if not _NAME.fullmatch(name):
        doc.fail(where, f"bad provider name {name!r} (letters, digits, '_', '.', '-')")
    if not isinstance(table, dict):
        doc.fail(where, f"[providers.{name}] must be a table")
    known = {f.name for f in fields(Provider)} - {"name"}
    for key, value in table.items():
        if key == "api_key":
            doc.fail(where + (key,), "API keys do not belong in this file: put the key in the "
                     f"keyring (keyring set {SERVICE} {name}) or name an environment "
                     "variable with api_key_env")
        if key not in known:
            doc.fail(where + (key,), f"unknown field {key!r} (known: {', '.join(sorted(known))})")
        problem = _check(key, value)
        if problem:
            doc.fail(where + (key,), f"providers.{name}.{key}: {problem}")
    if old is None and not {"kind", "base_url"} <= set(table):
        doc.fail(where, f"new provider {name!r} needs kind and base_url")
    start = old or Provider(name, table["kind"], table["base_url"])
    return replace(start, **table)


def _check(key: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for field ``key`` (None when it is)."""
    if key == "kind":
        return None if value in KINDS else f"must be one of {', '.join(KINDS)}, not {value!r}"
    if key == "base_url":
        ok = isinstance(value, str) and re.match(r"https?://[^/\s]+", value)
        return None if ok else f"must be an http:// or https:// URL, not {value!r}"
    if key == "api_key_env":
        ok = isinstance(value, str) and _ENV_NAME.fullmatch(value)
        return None if ok else f"must be an environment variable name, not {value!r}"
    if key == "keyring":
        return None if isinstance(value, bool) else "must be true or false"
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else f"must be a whole number >= 1, not {value!r}"


def resolve_key(provider: Provider) -> str | None:
    """The API key (`agentdeck.engine.config.secrets.find_secret`'s precedence), else None; may block."""
    if not provider.api_key_env and not provider.keyring:
        return None
    return find_secret(provider.api_key_env, provider=provider.name,
                       use_keyring=provider.keyring)


def make_client(provider: Provider, **options: Any) -> HTTPLLMClient:
    """A client for ``provider`` (options as for `agentdeck.engine.llm.client.HTTPLLMClient`).

    Raises:
        InvalidInput: the provider needs a key and none is set.
    """
    key = resolve_key(provider)
    if key is None and provider.api_key_env:
        raise InvalidInput(
            f"no API key for LLM provider {provider.name!r}: set {provider.api_key_env} or "
            f"store it with `keyring set {SERVICE} {provider.name}`")
    from agentdeck.engine.llm import AnthropicClient, OpenAIChatClient  # httpx: on first use
    cls = AnthropicClient if provider.kind == "anthropic" else OpenAIChatClient
    return cls(provider.base_url, key, name=provider.name, **options)
