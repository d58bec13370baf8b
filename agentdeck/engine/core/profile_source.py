"""The agent profiles and the providers in use, read from the data dir's TOML files (in a
thread) at open and on reload; and the user's ``agents.toml`` as text for an editor."""
from __future__ import annotations

import asyncio
from pathlib import Path

from agentdeck.engine import validate
from agentdeck.engine.config.profiles import (USER_FILE as PROFILES_FILE, load_profiles,
                                              write_user_profiles)
from agentdeck.engine.config.providers import DEFAULTS as PROVIDER_DEFAULTS, Provider, load_providers
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.events import EventBus, Notice
from agentdeck.engine.models import AgentProfile

Config = tuple[dict[str, AgentProfile], tuple[dict[str, Provider], str | None]]


class ProfileSource:
    """The profiles and providers of one data dir.

    Args:
        home: the data dir.
        bus: where a broken providers file is reported.
        config: what `read_config` read at open.
    """

    def __init__(self, home: Path, bus: EventBus, config: Config) -> None:
        self._home = home
        self._bus = bus
        self._use(config)

    def _use(self, config: Config) -> None:
        self._profiles, (self._providers, problem) = config
        if problem:
            self._bus.publish(Notice("error", problem))

    def profile(self, name: str) -> AgentProfile:
        """The profile of that name.

        Raises:
            NotFound: there is none (the message names the profiles there are).
        """
        return self._profiles[validate.name_in(name, self._profiles, "agent profile")]

    def all(self) -> dict[str, AgentProfile]:
        return dict(self._profiles)

    def provider_cap(self, agent: str) -> tuple[str | None, int | None]:
        """The provider an agent's profile uses and that provider's own parallel cap."""
        profile = self._profiles.get(agent)
        if profile is None or not profile.provider:
            return None, None
        provider = self._providers.get(profile.provider)
        # An unknown provider has no cap here: the runner reports it when the task starts.
        return profile.provider, provider.max_parallel if provider else None

    async def reload(self) -> None:
        self._use(await asyncio.to_thread(read_config, self._home))

    async def read_text(self) -> str:
        """The text of the user's ``agents.toml`` ("" when there is none)."""
        path = self._home / PROFILES_FILE
        return await asyncio.to_thread(
            lambda: path.read_text(encoding="utf-8") if path.exists() else "")

    async def save_text(self, text: str) -> dict[str, AgentProfile]:
        """Replace the user's ``agents.toml`` with ``text`` and use its profiles from now.

        Raises:
            InvalidInput: The text is invalid (line and field named); the file is kept.
        """
        await asyncio.to_thread(write_user_profiles, self._home, text)
        await self.reload()
        return self.all()


def read_config(home: Path) -> Config:
    """The profiles and the providers (reads TOML files: call it in a thread)."""
    return load_profiles(home), _read_providers(home)


def _read_providers(home: Path) -> tuple[dict[str, Provider], str | None]:
    """The providers and what is wrong with providers.toml, if anything: a broken file is
    reported, not fatal (tasks using it fail with the file's error when they start)."""
    try:
        return load_providers(home), None
    except AgentdeckError as exc:
        return dict(PROVIDER_DEFAULTS), str(exc)
