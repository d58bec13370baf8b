"""What the user's setup needs, which decides whether a problem fails the diagnosis or
only warns.

The profiles the user *uses* are those named in their own ``agents.toml`` (a table there
means they configured it, so they run it), the agents of their queued and running tasks,
and ``shell`` (the CLI's default agent). Each runs on its profile's runtime, else the
default runtime setting; "auto" is Docker when an endpoint answers with the images, else
local — as the engine settles it. Then:

* Docker (endpoints, images) fails when a used profile or the default runtime says
  ``docker``; under "auto" a Docker problem only warns (tasks run locally).
* bubblewrap and user namespaces fail when a used profile runs locally confined
  (``sandbox = "bwrap"``, the default).
* An agent CLI fails when a used profile runs it locally; otherwise a missing one warns
  (a container has its own copy, and an unused profile needs nothing).
* The egress guard fails when a used profile with an egress allowlist runs on Docker
  (the local runtime's egress needs no iptables).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdeck.engine.agents.cli_check import INSTALL
from agentdeck.engine.config.profiles import (USER_FILE, builtin_profiles, load_profiles,
                                              validate_profiles_text)
from agentdeck.engine.doctor.checks import Check, Status, ok
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.models import AgentProfile
from agentdeck.engine.runtimes.docker.images import AGENT_IMAGE
from agentdeck.engine.runtimes.local.bwrap import network_of

#: Always used: what `agentdeck submit` runs without --agent.
DEFAULT_AGENT = "shell"


@dataclass(frozen=True)
class Needs:
    """The profiles the user uses and the default runtime they run on."""

    profiles: dict[str, AgentProfile]
    used: tuple[str, ...]
    default_runtime: str

    def _used(self) -> list[AgentProfile]:
        return [self.profiles[name] for name in self.used]

    @property
    def docker_required(self) -> bool:
        """The default runtime, or a used profile, is set to Docker."""
        return self.default_runtime == "docker" or any(p.runtime == "docker" for p in self._used())

    def images(self) -> list[str]:
        """The images of the used profiles that may run on Docker (at least the agent image)."""
        found = {p.image for p in self._used() if self._runtime(p) != "local"}
        return sorted(found or {AGENT_IMAGE})

    def runtime_of(self, profile: AgentProfile, docker_usable: bool) -> str:
        runtime = self._runtime(profile)
        if runtime == "auto":
            return "docker" if docker_usable else "local"
        return runtime

    def _runtime(self, profile: AgentProfile) -> str:
        return profile.runtime or self.default_runtime

    def on(self, runtime: str, docker_usable: bool) -> list[AgentProfile]:
        """The used profiles that run on ``runtime``."""
        return [p for p in self._used() if self.runtime_of(p, docker_usable) == runtime]

    def egress_on_docker(self, docker_usable: bool) -> bool:
        return any(network_of(p) == "egress" for p in self.on("docker", docker_usable))

    def cli_profiles(self) -> list[AgentProfile]:
        """Profiles whose program to look for: every agent CLI profile, and the other
        used ones that start a program."""
        return sorted((p for p in self.profiles.values() if p.kind != "builtin" and p.command
                       and (p.kind in INSTALL or p.name in self.used)), key=lambda p: p.name)

    def to_dict(self, docker_usable: bool) -> dict[str, Any]:
        return {"default_runtime": self.default_runtime, "docker_usable": docker_usable,
                "profiles": {name: self.runtime_of(self.profiles[name], docker_usable)
                             for name in self.used}}


def read_needs(home: Path, settings: dict[str, Any], active_agents: set[str]) -> tuple[Needs, Check]:
    """The `Needs` and the check of the profile files (blocking: reads TOML)."""
    try:
        profiles = load_profiles(home)
        mine = _user_profile_names(home)
        check = ok("config", "agent profiles", f"{len(profiles)} profiles"
                   + (f", {len(mine)} from {home / USER_FILE}" if mine else ""))
    except AgentdeckError as exc:
        profiles, mine = builtin_profiles(), set()
        check = Check("config", "agent profiles", Status.FAIL, str(exc),
                      f"fix {home / USER_FILE} (Settings > Agent profiles shows the error too)")
    used = sorted(({DEFAULT_AGENT} | mine | active_agents) & set(profiles))
    runtime = settings.get("default_runtime") or "auto"
    return Needs(profiles, tuple(used), str(runtime)), check


def _user_profile_names(home: Path) -> set[str]:
    path = home / USER_FILE
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8")
    return set(validate_profiles_text(text, source=str(path), base=builtin_profiles()))
