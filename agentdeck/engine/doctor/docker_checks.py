"""Docker: each endpoint answers (version, storage driver), and has the agent images,
built from the current recipe."""
from __future__ import annotations

from dataclasses import dataclass, field

import docker
import docker.errors

from agentdeck.engine.doctor.checks import Check, ok, problem
from agentdeck.engine.errors import AgentdeckError
from agentdeck.engine.runtimes.docker.images import RECIPE_LABEL, offline_recipe
from agentdeck.engine.runtimes.docker.endpoints import (Endpoint, default_endpoint, describe,
                                                        parse_endpoint)
from agentdeck.engine.runtimes.docker.pool import UNREACHABLE, open_client

GROUP = "docker"
#: Seconds doctor waits for a daemon (the engine waits longer: it has work to do there).
TIMEOUT = 10.0
BUILD = "agentdeck image build --offline"


@dataclass
class DockerFacts:
    checks: list[Check] = field(default_factory=list)
    #: Some endpoint answers and has every image asked about ("auto" would use Docker).
    usable: bool = False


def check_docker(endpoint_lines: list[str], images: list[str], needed: bool) -> DockerFacts:
    """Every configured endpoint (or the default one) and ``images`` on each (blocking).

    Args:
        endpoint_lines: The ``docker_endpoints`` setting (empty: the default endpoint).
        images: The images the user's profiles run in.
        needed: A profile the user uses (or the default runtime) is set to Docker.
    """
    facts = DockerFacts()
    try:
        endpoints = [parse_endpoint(line) for line in endpoint_lines] or [default_endpoint()]
    except AgentdeckError as exc:
        facts.checks.append(problem(GROUP, "endpoints", str(exc),
                                    "fix the Docker endpoints in Settings > Runtimes", needed))
        return facts
    for endpoint in endpoints:
        usable = _check_endpoint(endpoint, images, needed, facts.checks)
        facts.usable = facts.usable or usable
    return facts


def _check_endpoint(endpoint: Endpoint, images: list[str], needed: bool,
                    checks: list[Check]) -> bool:
    name = f"endpoint {endpoint.name}"
    try:
        client = open_client(endpoint, TIMEOUT)
    except AgentdeckError as exc:
        detail, _, fix = str(exc).partition(". ")
        checks.append(problem(GROUP, name, detail, fix or "start the Docker daemon", needed))
        return False
    try:
        info = client.info()
        checks.append(ok(GROUP, name, f"Docker {info.get('ServerVersion', '?')}, storage driver "
                                      f"{info.get('Driver', '?')}: {describe(endpoint)}"))
        found = [_check_image(client, endpoint, image, needed) for image in images]
        checks.extend(check for check, _ in found)
        return all(present for _, present in found)
    except UNREACHABLE as exc:
        checks.append(problem(GROUP, name, f"{describe(endpoint)} fails: {exc}",
                              "check the daemon's log (journalctl -u docker)", needed))
        return False
    finally:
        client.close()


def _check_image(client: docker.DockerClient, endpoint: Endpoint, tag: str,
                 needed: bool) -> tuple[Check, bool]:
    """The image's check, and whether it is there."""
    name = f"image {tag} on {endpoint.name}"
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return problem(GROUP, name, "missing", f"build it with '{BUILD}'", needed), False
    size = f"{(image.attrs.get('Size') or 0) / (1 << 30):.1f} GB"
    recipe = (image.labels or {}).get(RECIPE_LABEL)
    if recipe is None:
        return ok(GROUP, name, f"present ({size}; built with docker build, so its recipe "
                               "is not tracked)"), True
    if recipe != offline_recipe():
        return problem(GROUP, name, f"present ({size}) but built from an older recipe "
                                    "(other agent CLI versions or packages)",
                       f"rebuild it with '{BUILD}'", needed=False), True
    return ok(GROUP, name, f"present ({size}), current recipe"), True
