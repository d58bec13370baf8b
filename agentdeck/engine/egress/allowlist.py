"""A profile's egress allowlist: what it may reach, shared by both runtimes' proxies."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Mapping

from agentdeck.engine.config.providers import get_provider
from agentdeck.engine.egress.proxy import parse_allow
from agentdeck.engine.errors import AgentdeckError, InvalidInput
from agentdeck.engine.models import AgentProfile


def egress_allowlist(profile: AgentProfile) -> frozenset[str] | None:
    """The profile's allowlist, or None when it runs offline or on the plain bridge.

    Raises:
        InvalidInput: ``options.egress`` is not a list of readable entries.
    """
    entries = profile.options.get("egress")
    if not profile.network or entries is None:
        return None
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
        raise InvalidInput(f"profile {profile.name}: options.egress must be a list of "
                           "'host:port' entries, e.g. [\"api.anthropic.com:443\"]")
    return parse_allow(entries)


def with_api_hosts(profile: AgentProfile, env: Mapping[str, str], home: Path) -> AgentProfile:
    """``profile`` with its model API hosts added to the egress allowlist it asks for.

    Only a profile that opts in (``network = true`` and ``options.egress``) is changed: the
    base URL of its provider and of every ``*_BASE_URL`` variable the agent gets (such as
    ``ANTHROPIC_BASE_URL``) join the list, so pointing an agent at another endpoint does
    not need a second edit.
    """
    egress = profile.options.get("egress")
    if egress is None or not profile.network:
        return profile
    extra = [value for name, value in env.items() if name.endswith("_BASE_URL") and value]
    if profile.provider:
        try:
            extra.append(get_provider(profile.provider, home).base_url)
        except AgentdeckError:
            pass  # an unknown provider is reported when the agent starts
    return replace(profile, options={**profile.options, "egress": [*egress, *extra]})
